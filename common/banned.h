/* Functions we never call. Included last in every .c, after system headers. */
#ifndef CCP_COMMON_BANNED_H
#define CCP_COMMON_BANNED_H

#define CCP_BANNED(f) ccp_banned_function_##f##_is_not_allowed

#undef sprintf
#define sprintf(...) CCP_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CCP_BANNED(vsprintf)
#undef strcpy
#define strcpy(...) CCP_BANNED(strcpy)
#undef strcat
#define strcat(...) CCP_BANNED(strcat)
#undef strncpy
#define strncpy(...) CCP_BANNED(strncpy)
#undef strncat
#define strncat(...) CCP_BANNED(strncat)
#undef gets
#define gets(...) CCP_BANNED(gets)
#undef strtok
#define strtok(...) CCP_BANNED(strtok)
#undef atoi
#define atoi(...) CCP_BANNED(atoi)
#undef atol
#define atol(...) CCP_BANNED(atol)
#undef atof
#define atof(...) CCP_BANNED(atof)
#undef alloca
#define alloca(...) CCP_BANNED(alloca)
#undef system
#define system(...) CCP_BANNED(system)

#endif /* CCP_COMMON_BANNED_H */
