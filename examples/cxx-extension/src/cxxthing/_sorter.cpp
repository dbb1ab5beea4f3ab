#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <set>
#include <string>

static PyObject *unique_sorted(PyObject *, PyObject *args) {
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq)) return nullptr;
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of str");
    if (!fast) return nullptr;
    std::set<std::string> items;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < n; ++i) {
        const char *s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(fast, i));
        if (!s) { Py_DECREF(fast); return nullptr; }
        items.insert(s);
    }
    Py_DECREF(fast);
    PyObject *out = PyList_New(0);
    for (const auto &s : items) {
        PyObject *u = PyUnicode_FromString(s.c_str());
        PyList_Append(out, u);
        Py_DECREF(u);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"unique_sorted", unique_sorted, METH_VARARGS, "Sorted unique strings (std::set)."},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sorter", nullptr, -1, methods};

PyMODINIT_FUNC PyInit__sorter(void) { return PyModule_Create(&module); }
