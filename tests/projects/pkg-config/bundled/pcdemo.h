int pcdemo_answer(void);
const char *pcdemo_origin(void);
