#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "util.h"

static PyObject *sum_squares(PyObject *self, PyObject *args) {
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq)) return NULL;
    PyObject *it = PyObject_GetIter(seq);
    if (!it) return NULL;
    double total = 0.0;
    PyObject *item;
    while ((item = PyIter_Next(it))) {
        double v = PyFloat_AsDouble(item);
        Py_DECREF(item);
        if (v == -1.0 && PyErr_Occurred()) { Py_DECREF(it); return NULL; }
        total += ft_square(v);
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return NULL;
    return PyFloat_FromDouble(total);
}

static PyObject *scale(PyObject *self, PyObject *noargs) {
    return PyLong_FromLong(FASTTHING_SCALE);
}

static PyMethodDef methods[] = {
    {"sum_squares", sum_squares, METH_VARARGS, "Sum of the squares of an iterable of numbers."},
    {"scale", scale, METH_NOARGS, "The FASTTHING_SCALE macro, set in pyproject.toml."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
