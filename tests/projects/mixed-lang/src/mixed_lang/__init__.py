from ._both import answer


def hello() -> None:
    print("hello from mixed-lang", answer())
