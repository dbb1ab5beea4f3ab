#ifndef FASTTHING_UTIL_H
#define FASTTHING_UTIL_H
double ft_square(double x);
#endif
