# Functions for .ci/run (sourced; tests/test_ci.py calls them one by one).

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Python 3.12: on PATH, else the newest 3.12 that pyenv has installed. Prints its real path.
find_python312() {
    if command -v python3.12 >/dev/null && python3.12 -c '' 2>/dev/null; then
        python3.12 -c 'import sys; print(sys.executable)'
        return
    fi
    if command -v pyenv >/dev/null; then
        local candidate
        candidate=$(ls -d "$(pyenv root)"/versions/3.12.*/bin/python3 2>/dev/null | sort -V | tail -n 1)
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            "$candidate" -c 'import sys; print(sys.executable)'
            return
        fi
    fi
    die "Python 3.12 not found (neither python3.12 on PATH nor a pyenv 3.12.x)"
}

# Make `python3.12` in folder $2 run the interpreter $1. A wrapper script, not a symlink:
# the interpreter then reports its own path, so a venv made through the wrapper points at
# the real interpreter and keeps working after the folder is deleted.
make_python_shim() {
    local interpreter=$1 folder=$2
    printf '#!/bin/sh\nexec "%s" "$@"\n' "$interpreter" > "$folder/python3.12"
    chmod +x "$folder/python3.12"
}

# The test command from README.md: one line inside a ```bash fence between the markers.
readme_test_command() {
    local block
    block=$(sed -n '/<!-- test-command -->/,/<!-- \/test-command -->/p' README.md \
        | grep -v -e '^<!--' -e '^```' -e '^[[:space:]]*$' || true)
    [[ -n "$block" ]] || die "no test command between <!-- test-command --> markers in README.md"
    [[ $(printf '%s\n' "$block" | wc -l) -eq 1 ]] || die "the README test command must be one line"
    printf '%s\n' "$block"
}

# A headless Chromium for the browser tests: Debian's or Ubuntu's package, installed if
# missing (with sudo when not root), else Google Chrome where the package is only a snap
# wrapper that cannot run headless (as on hosted runners). Exports EBM_BOOK_CHROMIUM.
runs_headless() { "$1" --headless --disable-gpu --no-sandbox --version >/dev/null 2>&1; }

find_chromium() {
    if ! runs_headless /usr/bin/chromium; then
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null || true
    fi
    if runs_headless /usr/bin/chromium; then
        export EBM_BOOK_CHROMIUM=/usr/bin/chromium
    elif command -v google-chrome >/dev/null && runs_headless "$(command -v google-chrome)"; then
        EBM_BOOK_CHROMIUM=$(command -v google-chrome)
        export EBM_BOOK_CHROMIUM
    else
        die "no headless Chromium: install Debian's chromium package"
    fi
    "$EBM_BOOK_CHROMIUM" --version
}
