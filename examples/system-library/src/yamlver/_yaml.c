#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>

static PyObject *version(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(yaml_get_version_string());
}

static PyMethodDef methods[] = {
    {"version", version, METH_NOARGS, "The libyaml version string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_yaml", NULL, -1, methods};

PyMODINIT_FUNC PyInit__yaml(void) { return PyModule_Create(&module); }
