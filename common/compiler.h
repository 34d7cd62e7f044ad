/* Compiler attributes used across CCProxy. */
#ifndef CCP_COMMON_COMPILER_H
#define CCP_COMMON_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define CCP_NODISCARD __attribute__((warn_unused_result))
#define CCP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define CCP_COLD __attribute__((cold))
#define CCP_UNUSED __attribute__((unused))
#define CCP_NORETURN __attribute__((noreturn))
#define CCP_LIKELY(x) __builtin_expect(!!(x), 1)
#define CCP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CCP_NODISCARD
#define CCP_PRINTF(fmt, args)
#define CCP_COLD
#define CCP_UNUSED
#define CCP_NORETURN
#define CCP_LIKELY(x) (x)
#define CCP_UNLIKELY(x) (x)
#endif

/* Functions marked CCP_STATIC are static except in unit-test builds. */
#ifdef CCP_UNIT_TEST
#define CCP_STATIC
#else
#define CCP_STATIC static
#endif

#define CCP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* CCP_COMMON_COMPILER_H */
