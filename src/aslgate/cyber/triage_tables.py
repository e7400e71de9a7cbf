"""The data tables of sanitizer triage: crash-type vocabularies, UBSan message names, and what counts as
runtime (sanitizer, libc, libFuzzer, driver) rather than project code in a stack.

Data only; `triage.py` holds the parser that reads them.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------------------------
# Crash-type vocabularies and tiers

SIGNAL_KINDS = {"SEGV", "BUS", "ABRT", "FPE", "ILL", "TRAP"}
ADDRESS_FAULTS = {"SEGV", "BUS"}
PC_HIJACK_KINDS = {"SEGV", "BUS", "ILL"}
# Bad memory accesses: T3 when the access is a WRITE, otherwise T2 (unknown access counts as a read).
OOB_KINDS = frozenset(
    {
        "heap-buffer-overflow",
        "stack-buffer-overflow",
        "stack-buffer-underflow",
        "global-buffer-overflow",
        "dynamic-stack-buffer-overflow",
        "heap-use-after-free",
        "stack-use-after-return",
        "stack-use-after-scope",
        "use-after-poison",
        "container-overflow",
        "intra-object-overflow",
        "unknown-crash",
        "tag-mismatch",
        "negative-size-param",
        "index-out-of-bounds",
        "insufficient-object-size",
    }
)
FREE_KINDS = frozenset({"double-free", "bad-free", "invalid-free"})

# UBSan's own error-type names (SUMMARY with report_error_type=1) mapped onto ours.
UBSAN_RENAMES = {
    "out-of-bounds-index": "index-out-of-bounds",
    "integer-divide-by-zero": "division-by-zero",
    "float-divide-by-zero": "division-by-zero",
    "implicit-unsigned-integer-truncation": "implicit-conversion",
    "implicit-signed-integer-truncation": "implicit-conversion",
    "implicit-integer-sign-change": "implicit-conversion",
    "implicit-signed-integer-truncation-or-sign-change": "implicit-conversion",
}

# (substring of the "runtime error:" message, crash type), first match wins.
UBSAN_MESSAGES: tuple[tuple[str, str], ...] = (
    (" out of bounds for type ", "index-out-of-bounds"),
    ("signed integer overflow", "signed-integer-overflow"),  # also matches "unsigned"; handled below
    ("division by zero", "division-by-zero"),
    ("division of ", "signed-integer-overflow"),  # INT_MIN / -1
    ("negation of ", "signed-integer-overflow"),  # -INT_MIN; unsigned handled below
    ("shift exponent ", "invalid-shift-exponent"),
    ("left shift of ", "invalid-shift-base"),
    ("null pointer passed as argument", "invalid-null-argument"),
    ("null pointer returned from function", "invalid-null-return"),
    ("applying zero offset to null pointer", "nullptr-with-offset"),
    ("applying non-zero offset to non-null pointer", "nullptr-after-nonzero-offset"),
    ("applying non-zero offset", "nullptr-with-nonzero-offset"),
    ("null pointer", "null-pointer-use"),
    ("misaligned address", "misaligned-pointer-use"),
    ("insufficient space for an object", "insufficient-object-size"),
    ("pointer index expression with base", "pointer-overflow"),
    ("unsigned offset", "pointer-overflow"),
    ("unreachable program point", "unreachable-call"),
    ("without returning a value", "missing-return"),
    ("variable length array bound", "non-positive-vla-index"),
    ("outside the range of representable values", "float-cast-overflow"),
    ("which is not a valid value for type", "invalid-enum-load"),  # bool handled below
    ("which is not a valid argument", "invalid-builtin-use"),
    ("through pointer to incorrect function type", "function-type-mismatch"),
    ("does not point to an object of type", "dynamic-type-mismatch"),
    ("control flow integrity check", "cfi-bad-type"),
    ("implicit conversion", "implicit-conversion"),
    ("byte alignment", "alignment-assumption"),
)

# ---------------------------------------------------------------------------------------------------------
# In-project frame classification

RUNTIME_PREFIXES = (
    "__asan",
    "__interceptor_",
    "___interceptor_",
    "__interception",
    "__sanitizer",
    "__ubsan",
    "__lsan",
    "__hwasan",
    "__msan",
    "__tsan",
    "__sancov",
    "fuzzer::",
    "__libc_",
    "__GI_",
    "__pthread_",
    "__assert_",
    "__cxa_",
    "__gxx_",
    "_Unwind_",
    "__fortify_fail",
    "__chk_fail",
    "__stack_chk_fail",
)
RUNTIME_NAMES = frozenset(
    {
        "_start",
        "abort",
        "raise",
        "gsignal",
        "pthread_kill",
        "start_thread",
        "clone",
        "clone3",
        "__clone",
        "__clone3",
        "__restore_rt",
        "LLVMFuzzerRunDriver",
        "std::terminate",
    }
)
# libc names that, without source info, are sanitizer interceptors or libc itself.
LIBC_NAMES = frozenset(
    {
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "free",
        "cfree",
        "memalign",
        "posix_memalign",
        "aligned_alloc",
        "valloc",
        "pvalloc",
        "malloc_usable_size",
        "strdup",
        "strndup",
        "__strdup",
        "memcpy",
        "memmove",
        "memset",
        "memcmp",
        "bcmp",
        "memchr",
        "memrchr",
        "memmem",
        "strcpy",
        "strncpy",
        "stpcpy",
        "stpncpy",
        "strcat",
        "strncat",
        "strlen",
        "strnlen",
        "strcmp",
        "strncmp",
        "strcasecmp",
        "strncasecmp",
        "strchr",
        "strrchr",
        "strstr",
        "strcasestr",
        "strspn",
        "strcspn",
        "strpbrk",
        "strtok",
        "strtok_r",
        "strtol",
        "strtoul",
        "strtoll",
        "strtoull",
        "atoi",
        "atol",
        "atoll",
        "printf",
        "fprintf",
        "sprintf",
        "snprintf",
        "vprintf",
        "vfprintf",
        "vsprintf",
        "vsnprintf",
        "puts",
        "fputs",
        "fwrite",
        "fread",
        "fgets",
        "gets",
        "scanf",
        "sscanf",
        "fscanf",
        "vsscanf",
        "read",
        "write",
        "pread",
        "pwrite",
        "wcslen",
        "wcscpy",
        "qsort",
        "bsearch",
        "longjmp",
        "siglongjmp",
        "_longjmp",
    }
)
RUNTIME_PATH_PARTS = (
    "compiler-rt/",
    "sanitizer_common/",
    "/lib/asan/",
    "/lib/ubsan",
    "/lib/lsan/",
    "/lib/hwasan/",
    "/lib/fuzzer/",
    "/libfuzzer/",
    "/usr/include/",
    "/usr/lib/gcc/",
    "/include/c++/",
    "libstdc++",
    "/libcxx/",
    "/libcxxabi/",
    "/glibc",
    "/sysdeps/",
)
LIBFUZZER_FILE_RE = re.compile(r"Fuzzer[A-Z]\w*\.(?:cpp|h)$")
# glibc sources as Debian debug info names them: "csu/../csu/libc-start.c", "nptl/./nptl/pthread_kill.c".
GLIBC_PATH_RE = re.compile(
    r"(?:\.\./)*(?:csu|nptl|stdlib|assert|signal|string|sysdeps|libio|malloc|misc|posix|stdio-common|debug"
    r"|elf|setjmp|io|wcsmbs|iconv|locale|ctype|time|socket|resolv|inet|dlfcn|login|intl|math|support|htl)/"
)
SYSTEM_MODULE_RE = re.compile(
    r"(?:ld-linux|ld64|ld-\d|libc[.-]|libm[.-]|libpthread|libdl|librt|libresolv|libstdc\+\+|libc\+\+"
    r"|libgcc|libunwind|libasan|libubsan|liblsan|libhwasan|libclang_rt|linux-vdso|\[vdso\])"
)
DRIVER_FUNCTIONS = frozenset({"main", "aslgate_win"})
ENTRY = "LLVMFuzzerTestOneInput"
