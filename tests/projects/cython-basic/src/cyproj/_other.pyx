def div(int a, int b):
    return a // b


def ratio(int a, int b):
    return a / b
