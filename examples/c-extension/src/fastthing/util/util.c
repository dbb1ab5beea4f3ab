#include "util.h"

double ft_square(double x) { return x * x; }
