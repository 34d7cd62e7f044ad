/* translate/response.c: placeholder until its owner lands it. */
#include "config.h"

#include "translate/translate.h"

#include "common/banned.h"
