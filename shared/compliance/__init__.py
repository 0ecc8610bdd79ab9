"""The traceability matrix: requirements of the quality standards, the features that meet
them, and the tests (marked ``@pytest.mark.requirement(...)``) that show it.

``python -m shared.compliance.matrix`` writes docs/compliance.md (``make compliance``).
"""
