"""A stand-in for a linter or test helper that only developers need."""


def check() -> str:
    return "devtool: ok"
