/* A SIMD-friendly kernel: the compiler vectorizes these loops for the target level
 * (-march=x86-64-vN comes from the variant). The VARWHEEL_* macros of the generated
 * varwheel_variant.h describe the variant; a non-variant build has no such header. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__has_include)
#if __has_include("varwheel_variant.h")
#include "varwheel_variant.h"
#endif
#endif

#ifndef VARWHEEL_VARIANT_LABEL
#define VARWHEEL_VARIANT_LABEL ""   /* non-variant build */
#endif
#ifndef VARWHEEL_X86_64_LEVEL
#define VARWHEEL_X86_64_LEVEL 0
#endif

static int get_buffer(PyObject *obj, Py_buffer *view) {
    if (PyObject_GetBuffer(obj, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->itemsize != sizeof(double) || view->format == NULL || view->format[0] != 'd') {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "expected a contiguous buffer of float64 ('d')");
        return -1;
    }
    return 0;
}

static double dot_kernel(const double *restrict a, const double *restrict b, Py_ssize_t n) {
    double acc[8] = {0};
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    double s = 0;
    for (int k = 0; k < 8; k++) s += acc[k];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static PyObject *py_dot(PyObject *self, PyObject *args) {
    PyObject *x, *y;
    Py_buffer a, b;
    if (!PyArg_ParseTuple(args, "OO", &x, &y)) return NULL;
    if (get_buffer(x, &a) < 0) return NULL;
    if (get_buffer(y, &b) < 0) { PyBuffer_Release(&a); return NULL; }
    if (a.len != b.len) {
        PyBuffer_Release(&a); PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "buffers differ in length");
        return NULL;
    }
    double r = dot_kernel((const double *)a.buf, (const double *)b.buf, a.len / (Py_ssize_t)sizeof(double));
    PyBuffer_Release(&a); PyBuffer_Release(&b);
    return PyFloat_FromDouble(r);
}

static PyObject *py_total(PyObject *self, PyObject *arg) {
    Py_buffer a;
    if (get_buffer(arg, &a) < 0) return NULL;
    const double *p = (const double *)a.buf;
    Py_ssize_t n = a.len / (Py_ssize_t)sizeof(double);
    double acc[8] = {0}, s = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += p[i + k];
    for (int k = 0; k < 8; k++) s += acc[k];
    for (; i < n; i++) s += p[i];
    PyBuffer_Release(&a);
    return PyFloat_FromDouble(s);
}

static PyObject *py_label(PyObject *self, PyObject *unused) { return PyUnicode_FromString(VARWHEEL_VARIANT_LABEL); }
static PyObject *py_level(PyObject *self, PyObject *unused) { return PyLong_FromLong(VARWHEEL_X86_64_LEVEL); }

static PyMethodDef methods[] = {
    {"dot", py_dot, METH_VARARGS, "dot(a, b): dot product of two float64 buffers"},
    {"total", py_total, METH_O, "total(a): sum of a float64 buffer"},
    {"label", py_label, METH_NOARGS, "the variant label this module was built for ('' if none)"},
    {"level", py_level, METH_NOARGS, "the x86-64 level this module was built for (0 if none)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", NULL, 0, methods};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
