"""``python -m flinkey_async.sandbox --port 8080 --cars 1000 --seed 7``"""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m flinkey_async.sandbox"))
