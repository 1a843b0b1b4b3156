"""Entry point of the `hello` console script: prints one line that the image build test checks."""

import sys

from hello import __version__

GREETING = "hello from poetryops"


def message() -> str:
    """The line `hello` prints: greeting, project version and the Python running it."""
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"{GREETING} {__version__} (python {py})"


def run() -> None:
    print(message(), flush=True)


if __name__ == "__main__":
    run()
