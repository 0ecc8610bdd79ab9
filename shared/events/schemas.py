"""Generate the JSON Schema of every catalog event type into docs/events/.

``python -m shared.events.schemas`` writes them; ``--check`` fails when the
committed files are stale (run by the test suite).
"""

import json
import sys
from pathlib import Path

from shared.events.catalog import CATALOG

OUT_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"


def render() -> dict[str, str]:
    files = {}
    for event_type, model in sorted(CATALOG.items()):
        schema = model.model_json_schema()
        schema["$id"] = f"urn:capaflow:event:{event_type}"
        schema["x-topic"] = model.topic
        schema["x-subject"] = model.subject_field
        files[f"{event_type}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [n for n, text in files.items() if not (OUT_DIR / n).is_file()
                 or (OUT_DIR / n).read_text() != text]
        if stale:
            print("stale event schemas (run python -m shared.events.schemas):", *stale)
            return 1
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT_DIR / name).write_text(text)
    print(f"wrote {len(files)} schemas to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
