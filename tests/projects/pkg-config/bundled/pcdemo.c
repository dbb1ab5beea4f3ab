#include "pcdemo.h"
int pcdemo_answer(void) { return 42; }
const char *pcdemo_origin(void) { return "bundled"; }
