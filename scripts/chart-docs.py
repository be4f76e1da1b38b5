#!/usr/bin/env python3
"""Writes the values table of helm/argocd-drift/README.md from values.yaml (helm-docs style).

A key is documented by a `# -- text` comment right above it (continued by the `#` lines that
follow). Every key must be documented, unless it only groups documented keys. The table goes
between the markers `<!-- values:begin -->` and `<!-- values:end -->`.

usage: scripts/chart-docs.py [--check]   (--check: exit 1 if README.md is not current)
Standard library only.
"""
import pathlib
import re
import sys

CHART = pathlib.Path(__file__).resolve().parent.parent / "helm" / "argocd-drift"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
KEY = re.compile(r"^( *)([A-Za-z0-9_.\"-]+):(?: (.*))?$")


def parse(text):
    """[(path, default text, description)], and the undocumented leaf keys."""
    lines = text.splitlines()
    rows, undocumented = [], []
    stack = []  # (indent, key)
    comment = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
        elif stripped.startswith("#") and comment is not None:
            comment.append(stripped[1:].strip())
        elif not stripped:
            comment = None
        else:
            m = KEY.match(line)
            if not m or line.lstrip().startswith("-"):
                i += 1
                continue
            indent, key, rest = len(m.group(1)), m.group(2).strip('"'), (m.group(3) or "").strip()
            while stack and stack[-1][0] >= indent:
                stack.pop()
            path = ".".join([k for _, k in stack] + [key])
            # The value's block: the lines more indented than the key (or list items under it).
            block = []
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent
                                      or (lines[j].lstrip().startswith("- ") and len(lines[j]) - len(lines[j].lstrip()) >= indent)):
                if lines[j].strip() and not lines[j].strip().startswith("#"):
                    block.append(lines[j].strip())
                j += 1
            is_map = not rest and block and not block[0].startswith("-")
            if comment is not None:
                default = rest if rest else " ".join(block) if block else "null"
                rows.append((path, default, " ".join(comment)))
                # Documented as a whole, nested keys and list items included.
                comment = None
                i = j
                continue
            if is_map:
                stack.append((indent, key))
            else:
                undocumented.append(path)
            comment = None
        i += 1
    return rows, undocumented


def table(rows):
    out = ["| Key | Default | Description |", "|-----|---------|-------------|"]
    for path, default, desc in rows:
        default = default.replace("|", "\\|")
        desc = desc.replace("|", "\\|")
        out.append(f"| `{path}` | `{default}` | {desc} |")
    return "\n".join(out)


def main():
    check = "--check" in sys.argv[1:]
    rows, undocumented = parse((CHART / "values.yaml").read_text())
    if undocumented:
        print("values.yaml: keys without a `# --` comment: " + ", ".join(undocumented), file=sys.stderr)
        return 1
    readme_path = CHART / "README.md"
    readme = readme_path.read_text()
    if BEGIN not in readme or END not in readme:
        print(f"{readme_path}: markers {BEGIN} / {END} missing", file=sys.stderr)
        return 1
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{BEGIN}\n{table(rows)}\n{END}{tail}"
    if fresh == readme:
        return 0
    if check:
        print(f"{readme_path} is not current: run scripts/chart-docs.py", file=sys.stderr)
        return 1
    readme_path.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
