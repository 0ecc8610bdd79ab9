"""`make bench`: CAPAflow measured against baselines in the same run (issue 7).

Nothing here is imported by the services or the tests; see bench/README.md.
"""
