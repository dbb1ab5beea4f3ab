#include <Python.h>
#include "does_not_exist.h"
