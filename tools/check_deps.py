#!/usr/bin/env python3
"""Check #include lines against the layer graph of STYLE.md section 1.

    tools/ -> common/        fs/ -> cache/ -> drive/ -> common/
                             fs/ -> oauth/ -> drive/http.h

Nothing includes fs/; common/ includes only system headers; oauth/ reaches
drive/ only through its transport header (http.h, and err.h which it uses).
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALLOWED = {
    "common": {"common"},
    "drive": {"common", "drive"},
    "oauth": {"common", "oauth", "drive/http.h", "drive/err.h"},
    "cache": {"common", "cache", "drive"},
    "fs": {"common", "cache", "drive", "oauth", "fs"},
    "tools": {"common", "tools"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def allowed(layer, target):
    rules = ALLOWED[layer]
    return target in rules or target.split("/", 1)[0] in rules


def main():
    bad = []
    for layer in ALLOWED:
        for path in sorted((ROOT / layer).glob("*.[ch]")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                m = INCLUDE.match(line)
                if m and "/" in m.group(1) and not allowed(layer, m.group(1)):
                    bad.append(f"{path.relative_to(ROOT)}:{n}: "
                               f"{layer}/ may not include {m.group(1)}")
    for b in bad:
        print(b)
    if bad:
        print(f"check-deps: {len(bad)} include(s) break the layer graph")
        return 1
    print("check-deps: layer graph respected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
