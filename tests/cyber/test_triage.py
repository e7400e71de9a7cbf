"""Tests for aslgate.cyber.triage against real sanitizer reports.

The reports in tests/data/reports/ were produced with clang 14 on this machine: GENERATOR_bugs_c.txt holds
the C program (the first input byte selects the bug) and the build/run commands. Prefixes: asan_ (ASan+UBSan
build, -fno-sanitize-recover=undefined), ubsan_then_asan_ (recoverable UBSan), asanonly_/ubsanonly_ (one
sanitizer), libfuzzer_ (-fsanitize=fuzzer build), challenge_ (the corpus PoCs), truncated_/garbage/binary/
empty/no_crash (synthetic robustness cases).
"""

from __future__ import annotations

import hashlib
import random
import struct
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from aslgate.cyber.triage import (
    CrashReport,
    Frame,
    crash_site,
    filter_project_frames,
    parse_report,
    severity_tier,
    stack_hash,
)

REPORTS = Path(__file__).parents[1] / "data" / "reports"
SYNTHETIC = {
    "GENERATOR_bugs_c",
    "binary_junk",
    "empty",
    "garbage_text",
    "no_crash_program_output",
    "truncated_asan_header_only",
    "truncated_mid_stack",
    "truncated_tail_only",
    "truncated_ubsan_mid_frame",
}


@cache
def text_of(name: str) -> str:
    """Text of a stored report (binary junk decoded with replacement)."""
    return (REPORTS / f"{name}.txt").read_text(encoding="utf-8", errors="replace")


@cache
def parsed(name: str) -> CrashReport:
    """Parsed stored report; fails the test if nothing was found."""
    report = parse_report(text_of(name))
    assert report is not None, name
    return report


def real_reports() -> list[str]:
    """Names of all real (non-synthetic) stored reports."""
    return sorted(p.stem for p in REPORTS.glob("*.txt") if p.stem not in SYNTHETIC)


# name: (sanitizer, crash_type, access, size, top project function, tier)
EXPECTED: dict[str, tuple[str, str, str | None, int | None, str | None, int]] = {
    "asan_abrt_abort": ("address", "ABRT", None, None, "do_abort", 1),
    "asan_abrt_assert": ("address", "ABRT", None, None, "do_abort", 1),
    "asan_bad_free": ("address", "bad-free", None, None, "bad_free", 3),
    "asan_double_free": ("address", "double-free", None, None, "double_free", 3),
    "asan_global_buffer_overflow_read": ("address", "global-buffer-overflow", "READ", 4, "global_read", 2),
    "asan_global_buffer_overflow_write": ("address", "global-buffer-overflow", "WRITE", 4, "global_write", 3),
    "asan_heap_buffer_overflow_read": ("address", "heap-buffer-overflow", "READ", 1, "heap_read", 2),
    "asan_heap_buffer_overflow_write": ("address", "heap-buffer-overflow", "WRITE", 4, "parse_opts", 3),
    "asan_heap_buffer_overflow_write_alt": ("address", "heap-buffer-overflow", "WRITE", 4, "parse_opts", 3),
    "asan_heap_buffer_overflow_write_color": ("address", "heap-buffer-overflow", "WRITE", 4, "parse_opts", 3),
    "asan_heap_buffer_overflow_write_unsymbolized": ("address", "heap-buffer-overflow", "WRITE", 4, None, 3),
    "asan_heap_use_after_free_read": ("address", "heap-use-after-free", "READ", 4, "uaf_read", 2),
    "asan_heap_use_after_free_read_alt": ("address", "heap-use-after-free", "READ", 4, "uaf_read", 2),
    "asan_heap_use_after_free_write": ("address", "heap-use-after-free", "WRITE", 4, "uaf_write", 3),
    "asan_segv_near_null_read": ("address", "SEGV", "READ", None, "null_field", 1),
    "asan_segv_pc_controlled": ("address", "SEGV", "READ", None, None, 4),
    "asan_segv_pc_unknown_module": ("address", "SEGV", "READ", None, "LLVMFuzzerTestOneInput", 4),
    "asan_segv_wild_read": ("address", "SEGV", "READ", None, "wild_read", 2),
    "asan_segv_wild_write": ("address", "SEGV", "WRITE", None, "wild_write32", 3),
    # a 40-bit wild write faults on ASan's shadow check first, which ASan reports as a READ
    "asan_segv_wild_write_shadow": ("address", "SEGV", "READ", None, "wild_write", 2),
    "asan_stack_buffer_overflow_read": ("address", "stack-buffer-overflow", "READ", 4, "stack_read", 2),
    "asan_stack_buffer_overflow_read_alt": ("address", "stack-buffer-overflow", "READ", 4, "stack_read", 2),
    "asan_stack_buffer_overflow_write": ("address", "stack-buffer-overflow", "WRITE", 41, "stack_write", 3),
    "asan_stack_buffer_overflow_write_alt": (
        "address",
        "stack-buffer-overflow",
        "WRITE",
        21,
        "stack_write",
        3,
    ),
    "asan_stack_overflow_recursion": ("address", "stack-overflow", None, None, "recurse", 1),
    "asanonly_index_out_of_bounds_write": ("address", "stack-buffer-overflow", "WRITE", 4, "store_slot", 3),
    "asanonly_segv_null_read": ("address", "SEGV", "READ", None, "null_field", 1),
    "asanonly_segv_null_write": ("address", "SEGV", "WRITE", None, "wild_write32", 1),
    "challenge_heap-session-fnptr": ("address", "heap-buffer-overflow", "WRITE", 64, "set_peer", 3),
    "challenge_stack-name-copy": ("address", "stack-buffer-overflow", "WRITE", 64, "greet", 3),
    "challenge_uaf-widget-dispatch": (
        "address",
        "heap-use-after-free",
        "READ",
        8,
        "LLVMFuzzerTestOneInput",
        2,
    ),
    "libfuzzer_deadly_signal_abort": ("signal", "ABRT", None, None, "do_abort", 1),
    "libfuzzer_heap_buffer_overflow_write": ("address", "heap-buffer-overflow", "WRITE", 4, "parse_opts", 3),
    "libfuzzer_leak": ("leak", "memory-leak", None, 32, "leak", 1),
    "libfuzzer_segv_null": ("address", "SEGV", "READ", None, "null_field", 1),
    "libfuzzer_timeout": ("signal", "timeout", None, None, "spin", 1),
    "libfuzzer_ubsan_index_out_of_bounds": ("undefined", "index-out-of-bounds", None, None, "lookup", 2),
    "lsan_direct_leak": ("leak", "memory-leak", None, 32, "leak", 1),
    "ubsan_division_by_zero": ("undefined", "division-by-zero", None, None, "divide", 1),
    "ubsan_index_out_of_bounds": ("undefined", "index-out-of-bounds", None, None, "lookup", 2),
    "ubsan_index_out_of_bounds_alt": ("undefined", "index-out-of-bounds", None, None, "lookup", 2),
    "ubsan_index_out_of_bounds_write": ("undefined", "index-out-of-bounds", None, None, "store_slot", 2),
    "ubsan_no_stacktrace": ("undefined", "signed-integer-overflow", None, None, "", 1),
    "ubsan_null_member_access": ("undefined", "null-pointer-use", None, None, "null_deref", 1),
    "ubsan_recoverable_then_exit": ("undefined", "signed-integer-overflow", None, None, "checksum", 1),
    "ubsan_report_error_type": ("undefined", "index-out-of-bounds", None, None, "lookup", 2),
    "ubsan_shift_exponent": ("undefined", "invalid-shift-exponent", None, None, "shift", 1),
    "ubsan_signed_integer_overflow": ("undefined", "signed-integer-overflow", None, None, "checksum", 1),
    "ubsan_then_asan_index_read": ("address", "stack-buffer-overflow", "READ", 4, "lookup", 2),
    "ubsan_then_asan_index_write": ("address", "stack-buffer-overflow", "WRITE", 4, "store_slot", 3),
    "ubsanonly_index_out_of_bounds": ("undefined", "index-out-of-bounds", None, None, "lookup", 2),
    "ubsanonly_segv_near_null": ("undefined", "SEGV", "READ", None, "null_field", 1),
}


# ------------------------------------------------------------------------------------------------ fields


def test_every_real_report_has_expectations() -> None:
    """A new report file must be added to EXPECTED."""
    assert set(real_reports()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_report_fields(name: str) -> None:
    sanitizer, crash_type, access, size, top, tier = EXPECTED[name]
    r = parsed(name)
    assert (r.sanitizer, r.crash_type, r.access, r.size, r.tier) == (
        sanitizer,
        crash_type,
        access,
        size,
        tier,
    )
    assert (r.project_frames[0].function if r.project_frames else None) == top
    assert len(r.stack_hash) == 16 and int(r.stack_hash, 16) >= 0
    assert r.summary.startswith(crash_type)
    assert r.tier == severity_tier(r)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_project_frames_exclude_runtime_libc_fuzzer_and_driver(name: str) -> None:
    r = parsed(name)
    for f in r.project_frames:
        assert not f.function.startswith(("__asan", "__interceptor", "__sanitizer", "__ubsan", "fuzzer::"))
        assert f.function not in {"main", "_start", "__libc_start_main", "__libc_start_call_main", "abort"}
        assert f.function not in {"raise", "__assert_fail", "free", "malloc", "__pthread_kill_implementation"}
        assert not (f.file or "").endswith("driver.c")
        assert "libc.so" not in (f.module or "")
    assert r.project_frames == filter_project_frames(r.frames)


def test_asan_fields_address_pc_and_frames() -> None:
    r = parsed("asan_heap_buffer_overflow_write")
    assert r.address == 0x602000000040 and r.pc == 0x5570029327C4
    assert [f.function for f in r.frames[:3]] == ["parse_opts", "LLVMFuzzerTestOneInput", "main"]
    top = r.frames[0]
    assert (top.index, top.file, top.line, top.module) == (0, "/tmp/triage_gen/bugs.c", 28, None)
    last = r.frames[-1]
    assert (last.function, last.file, last.module) == ("_start", None, "/tmp/triage_gen/prog")
    assert len(r.frames) == 6  # the access stack only, not the allocation stack
    assert r.summary == "heap-buffer-overflow WRITE 4 in parse_opts bugs.c:28"


def test_memcpy_overflow_top_frame_is_the_caller_not_the_interceptor() -> None:
    r = parsed("challenge_stack-name-copy")
    assert r.frames[0].function == "__asan_memcpy"
    assert [f.function for f in r.project_frames] == ["greet", "LLVMFuzzerTestOneInput"]
    assert crash_site(r) == (
        "greet",
        "/work/main/src/aslgate/cyber/challenges/stack-name-copy/src/greet.c",
        10,
    )


def test_libfuzzer_frames_are_dropped() -> None:
    r = parsed("libfuzzer_deadly_signal_abort")
    assert any(f.function.startswith("fuzzer::") for f in r.frames)
    assert [f.function for f in r.project_frames] == ["do_abort", "LLVMFuzzerTestOneInput"]


def test_stack_overflow_keeps_recursion_frames() -> None:
    r = parsed("asan_stack_overflow_recursion")
    assert len(r.frames) > 200
    assert [f.function for f in r.project_frames[:3]] == ["recurse"] * 3


def test_ubsan_without_stack_trace_uses_error_location() -> None:
    r = parsed("ubsan_no_stacktrace")
    assert crash_site(r) == ("", "bugs.c", 99)
    assert r.summary == "signed-integer-overflow in bugs.c:99"


def test_pc_controlled_report_has_no_stack() -> None:
    r = parsed("asan_segv_pc_controlled")
    assert r.address == r.pc == 0x4141414141
    assert r.frames == [] and crash_site(r) == ("", None, None)
    assert r.summary == "SEGV READ at pc 0x4141414141"


# ------------------------------------------------------------------------------------------------ hashes

SAME_BUG_GROUPS = [
    [
        "asan_heap_buffer_overflow_write",
        "asan_heap_buffer_overflow_write_alt",
        "asan_heap_buffer_overflow_write_color",
        "libfuzzer_heap_buffer_overflow_write",
    ],
    ["asan_stack_buffer_overflow_read", "asan_stack_buffer_overflow_read_alt"],
    ["asan_stack_buffer_overflow_write", "asan_stack_buffer_overflow_write_alt"],
    ["asan_heap_use_after_free_read", "asan_heap_use_after_free_read_alt"],
    [
        "ubsan_index_out_of_bounds",
        "ubsan_index_out_of_bounds_alt",
        "ubsan_report_error_type",
        "ubsanonly_index_out_of_bounds",
        "libfuzzer_ubsan_index_out_of_bounds",
    ],
    ["ubsan_signed_integer_overflow", "ubsan_recoverable_then_exit"],
    ["lsan_direct_leak", "libfuzzer_leak"],
    [
        "asan_segv_near_null_read",
        "asanonly_segv_null_read",
        "libfuzzer_segv_null",
        "ubsanonly_segv_near_null",
    ],
    ["asan_segv_wild_write", "asanonly_segv_null_write"],
    ["asan_abrt_abort", "libfuzzer_deadly_signal_abort"],
    ["ubsan_then_asan_index_write", "asanonly_index_out_of_bounds_write"],
]

DISTINCT_BUGS = [
    "asan_heap_buffer_overflow_read",
    "asan_heap_buffer_overflow_write",
    "asan_stack_buffer_overflow_read",
    "asan_stack_buffer_overflow_write",
    "asan_global_buffer_overflow_read",
    "asan_global_buffer_overflow_write",
    "asan_heap_use_after_free_read",
    "asan_heap_use_after_free_write",
    "asan_double_free",
    "asan_bad_free",
    "asan_segv_near_null_read",
    "asan_segv_wild_read",
    "asan_segv_wild_write",
    "asan_segv_wild_write_shadow",
    "asan_segv_pc_controlled",
    "asan_segv_pc_unknown_module",
    "asan_stack_overflow_recursion",
    "asan_abrt_abort",
    "ubsan_index_out_of_bounds",
    "ubsan_index_out_of_bounds_write",
    "ubsan_signed_integer_overflow",
    "ubsan_division_by_zero",
    "ubsan_shift_exponent",
    "ubsan_null_member_access",
    "lsan_direct_leak",
    "libfuzzer_timeout",
    "challenge_heap-session-fnptr",
    "challenge_stack-name-copy",
    "challenge_uaf-widget-dispatch",
]


@pytest.mark.parametrize("group", SAME_BUG_GROUPS, ids=lambda g: g[0])
def test_same_bug_different_inputs_same_hash(group: list[str]) -> None:
    hashes = {parsed(n).stack_hash for n in group}
    assert len(hashes) == 1, {n: parsed(n).stack_hash for n in group}


def test_different_bugs_different_hashes() -> None:
    hashes = [parsed(n).stack_hash for n in DISTINCT_BUGS]
    assert len(set(hashes)) == len(DISTINCT_BUGS)


def test_stack_hash_is_clusterfuzz_style() -> None:
    r = parsed("asan_heap_buffer_overflow_write")
    state = "heap-buffer-overflow\nparse_opts\nLLVMFuzzerTestOneInput"
    assert r.stack_hash == hashlib.sha256(state.encode()).hexdigest()[:16]
    # filtering is idempotent: full and project-only frames hash the same
    assert stack_hash(r.crash_type, r.frames) == stack_hash(r.crash_type, r.project_frames) == r.stack_hash


def test_stack_hash_ignores_lines_and_cpp_parameters() -> None:
    a = [Frame(index=0, function="ns::Parser::parse(char const*, unsigned long)", file="/a/p.cc", line=10)]
    b = [Frame(index=0, function="ns::Parser::parse", file="/b/p.cc", line=99)]
    assert stack_hash("heap-buffer-overflow", a) == stack_hash("heap-buffer-overflow", b)
    assert stack_hash("heap-buffer-overflow", a) != stack_hash("heap-use-after-free", a)


def test_stack_hash_uses_top_three_project_frames_only() -> None:
    frames = [Frame(index=i, function=f"f{i}", file="x.c", line=i) for i in range(5)]
    assert stack_hash("SEGV", frames) == stack_hash("SEGV", frames[:3])
    assert stack_hash("SEGV", frames) != stack_hash("SEGV", frames[1:])


@pytest.mark.parametrize(
    ("ubsan", "asan"),
    [
        ("ubsan_index_out_of_bounds_write", "asanonly_index_out_of_bounds_write"),
        ("ubsan_index_out_of_bounds", "ubsan_then_asan_index_read"),
    ],
)
def test_ubsan_and_asan_reports_of_one_bug_share_crash_site(ubsan: str, asan: str) -> None:
    u, a = parsed(ubsan), parsed(asan)
    assert u.crash_type == "index-out-of-bounds" and a.crash_type == "stack-buffer-overflow"
    assert u.stack_hash != a.stack_hash
    assert crash_site(u) == crash_site(a)
    assert crash_site(u)[0] in {"store_slot", "lookup"} and crash_site(u)[2] in {95, 137}


# ------------------------------------------------------------------------------------------------ tiers


def test_ubsan_followed_by_asan_uses_the_asan_access() -> None:
    text = text_of("ubsan_then_asan_index_write")
    assert text.index("runtime error:") < text.index("ERROR: AddressSanitizer")
    assert parsed("ubsan_then_asan_index_write").tier == 3  # ASan says WRITE
    assert parsed("ubsan_index_out_of_bounds_write").tier == 2  # UBSan alone: access unknown


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        ("ubsan_recoverable_then_exit", "asan_heap_buffer_overflow_write", "asan_heap_buffer_overflow_write"),
        ("asan_heap_buffer_overflow_write", "ubsan_recoverable_then_exit", "asan_heap_buffer_overflow_write"),
        ("ubsan_index_out_of_bounds", "lsan_direct_leak", "ubsan_index_out_of_bounds"),
        ("lsan_direct_leak", "ubsan_index_out_of_bounds", "ubsan_index_out_of_bounds"),
    ],
)
def test_most_severe_report_wins_in_either_order(first: str, second: str, winner: str) -> None:
    r = parse_report(text_of(first) + "\n" + text_of(second))
    assert r is not None
    assert (r.crash_type, r.tier, r.stack_hash) == (
        parsed(winner).crash_type,
        parsed(winner).tier,
        parsed(winner).stack_hash,
    )


def test_t4_when_pc_bytes_appear_in_input() -> None:
    text = text_of("asan_segv_wild_read")
    r = parsed("asan_segv_wild_read")
    assert r.pc is not None and r.pc != r.address
    assert parse_report(text, input_bytes=b"AAAA" + struct.pack("<Q", r.pc)).tier == 4
    assert parse_report(text, input_bytes=struct.pack("<I", r.pc & 0xFFFFFFFF)).tier == 4
    assert parse_report(text, input_bytes=b"l\x00" + struct.pack("<Q", 0x4242424242)).tier == 2
    assert severity_tier(r, input_bytes=struct.pack("<Q", r.pc)) == 4


def test_t4_when_pc_equals_fault_address() -> None:
    assert parse_report(text_of("asan_segv_pc_controlled"), input_bytes=b"m\x00" + b"A" * 5).tier == 4


def test_null_function_pointer_call_is_not_t4() -> None:
    r = parsed("asan_segv_pc_controlled").model_copy(update={"address": 0, "pc": 0})
    assert severity_tier(r, input_bytes=b"\x00" * 16) == 1


@pytest.mark.parametrize(
    ("crash_type", "access", "address", "tier"),
    [
        ("SEGV", "READ", 0x10, 1),
        ("SEGV", "WRITE", 0xFFF, 1),
        ("SEGV", None, None, 1),
        ("SEGV", None, 0x7F0000001000, 2),
        ("SEGV", "WRITE", 0x7F0000001000, 3),
        ("index-out-of-bounds", None, None, 2),
        ("index-out-of-bounds", "WRITE", None, 3),
        ("heap-use-after-free", "WRITE", 0x6020, 3),
        ("stack-use-after-return", "READ", 0x7FF0, 2),
        ("double-free", None, 0x6020, 3),
        ("bad-free", None, 0x6020, 3),
        ("memory-leak", None, None, 1),
        ("timeout", None, None, 1),
        ("out-of-memory", None, None, 1),
        ("null-pointer-use", None, None, 1),
        ("FPE", None, 0x55, 1),
        ("something-new", None, None, 1),
    ],
)
def test_tier_table(crash_type: str, access: str | None, address: int | None, tier: int) -> None:
    base = parsed("asan_segv_wild_read")
    r = base.model_copy(update={"crash_type": crash_type, "access": access, "address": address})
    assert severity_tier(r) == tier


def test_no_report_is_t0() -> None:
    assert severity_tier(None) == 0


# ------------------------------------------------------------------------------------------------ formats


def _one_frame(frame_line: str) -> Frame:
    """Parse a single frame line placed under a UBSan header."""
    r = parse_report("x.c:1:1: runtime error: division by zero\n" + frame_line + "\n")
    assert r is not None and r.frames
    return r.frames[0]


@pytest.mark.parametrize(
    ("line", "function", "file", "lineno", "module"),
    [
        ("    #0 0x55d in parse_opts /src/tcp.c:42:5", "parse_opts", "/src/tcp.c", 42, None),
        ("    #1 0x55d in parse_opts src/tcp.c:42", "parse_opts", "src/tcp.c", 42, None),
        ("    #2 0x55d in parse_opts /src/tcp.c", "parse_opts", "/src/tcp.c", None, None),
        ("    #3 0x55d in free (/tmp/prog+0xa3ed2) (BuildId: 44a1)", "free", None, None, "/tmp/prog"),
        (
            "    #4 0x7fb  (/lib/x86_64-linux-gnu/libc.so.6+0x3c04f)",
            "",
            None,
            None,
            "/lib/x86_64-linux-gnu/libc.so.6",
        ),
        ("    #5 0x1000  (<unknown module>)", "", None, None, "<unknown module>"),
        (
            "    #6 0x55 in fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long) (/f+0x44303)",
            "fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)",
            None,
            None,
            "/f",
        ),
        (
            "    #7 0x55 in std::vector<int>::at(unsigned long) const /usr/include/c++/12/bits/stl_vector.h:1123:2",
            "std::vector<int>::at(unsigned long) const",
            "/usr/include/c++/12/bits/stl_vector.h",
            1123,
            None,
        ),
        ("    #8 0x55 in handler+0x1a (/tmp/prog+0x1234)", "handler", None, None, "/tmp/prog"),
        ("    #9 0x55 in LLVMFuzzerTe", "LLVMFuzzerTe", None, None, None),
    ],
)
def test_frame_forms(
    line: str, function: str, file: str | None, lineno: int | None, module: str | None
) -> None:
    f = _one_frame(line)
    assert (f.function, f.file, f.line, f.module) == (function, file, lineno, module)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("index 5 out of bounds for type 'int[4]'", "index-out-of-bounds"),
        (
            "signed integer overflow: 2147483647 + 1 cannot be represented in type 'int'",
            "signed-integer-overflow",
        ),
        (
            "unsigned integer overflow: 0 - 1 cannot be represented in type 'unsigned int'",
            "unsigned-integer-overflow",
        ),
        ("negation of -2147483648 cannot be represented in type 'int'", "signed-integer-overflow"),
        ("division of -2147483648 by -1 cannot be represented in type 'int'", "signed-integer-overflow"),
        ("division by zero", "division-by-zero"),
        ("shift exponent 40 is too large for 32-bit type 'int'", "invalid-shift-exponent"),
        ("left shift of negative value -1", "invalid-shift-base"),
        ("load of null pointer of type 'int'", "null-pointer-use"),
        ("member access within null pointer of type 'struct s'", "null-pointer-use"),
        ("null pointer passed as argument 1, which is declared to never be null", "invalid-null-argument"),
        ("applying non-zero offset 8 to null pointer", "nullptr-with-nonzero-offset"),
        ("pointer index expression with base 0xffffffffffff overflowed to 0x2", "pointer-overflow"),
        (
            "load of misaligned address 0x1 for type 'int', which requires 4 byte alignment",
            "misaligned-pointer-use",
        ),
        ("load of value 5, which is not a valid value for type 'bool'", "invalid-bool-load"),
        ("load of value 9, which is not a valid value for type 'enum E'", "invalid-enum-load"),
        ("execution reached an unreachable program point", "unreachable-call"),
        ("5e+10 is outside the range of representable values of type 'int'", "float-cast-overflow"),
        ("something nobody has seen", "undefined-behavior"),
    ],
)
def test_ubsan_message_kinds(message: str, kind: str) -> None:
    r = parse_report(f"f.c:3:7: runtime error: {message}\n")
    assert r is not None and r.sanitizer == "undefined" and r.crash_type == kind
    assert crash_site(r) == ("", "f.c", 3)


@pytest.mark.parametrize(
    ("header", "kind", "address", "pc"),
    [
        ("SEGV on unknown address (pc 0x55d0 bp 0x7ff sp 0x7ff T0)", "SEGV", None, 0x55D0),
        ("SEGV on unknown address 0x000000000000 (pc 0x55d0 bp 0x7ff sp 0x7ff T0)", "SEGV", 0, 0x55D0),
        ("BUS on unknown address 0x7f0000000000 (pc 0x55d0 bp 0x1 sp 0x1 T0)", "BUS", 0x7F0000000000, 0x55D0),
        ("FPE on unknown address 0x55d0 (pc 0x55d0 bp 0x1 sp 0x1 T0)", "FPE", 0x55D0, 0x55D0),
        (
            "stack-use-after-return on address 0x7f00 at pc 0x55d0 bp 0x1 sp 0x2",
            "stack-use-after-return",
            0x7F00,
            0x55D0,
        ),
        (
            "memcpy-param-overlap: memory ranges [0x1,0x5) and [0x3, 0x7) overlap",
            "memcpy-param-overlap",
            None,
            None,
        ),
        ("negative-size-param: (size=-1)", "negative-size-param", None, None),
        (
            "requested allocation size 0xffffffffffffffff exceeds maximum",
            "allocation-size-too-big",
            None,
            None,
        ),
        ("attempting double-free on 0x602000000030 in thread T0:", "double-free", 0x602000000030, None),
    ],
)
def test_asan_header_kinds(header: str, kind: str, address: int | None, pc: int | None) -> None:
    text = f"==42==ERROR: AddressSanitizer: {header}\n    #0 0x55d0 in victim /src/v.c:7:3\n"
    r = parse_report(text)
    assert r is not None
    assert (r.sanitizer, r.crash_type, r.address, r.pc) == ("address", kind, address, pc)
    assert crash_site(r) == ("victim", "/src/v.c", 7)


def test_libfuzzer_out_of_memory_and_indirect_leak() -> None:
    oom = parse_report(
        "==7== ERROR: libFuzzer: out-of-memory (malloc(2147483648))\n    #0 0x1 in grow /s/g.c:4\n"
    )
    assert oom is not None and (oom.sanitizer, oom.crash_type, oom.tier) == ("signal", "out-of-memory", 1)
    leak = parse_report(
        "==9==ERROR: LeakSanitizer: detected memory leaks\n\n"
        "Indirect leak of 24 byte(s) in 2 object(s) allocated from:\n"
        "    #0 0x1 in malloc (/p+0x10)\n    #1 0x2 in make_node /s/list.c:12:9\n"
    )
    assert leak is not None and (leak.crash_type, leak.size) == ("memory-leak", 24)
    assert crash_site(leak) == ("make_node", "/s/list.c", 12)


def test_deadlysignal_line_alone_is_a_partial_crash() -> None:
    r = parse_report("AddressSanitizer:DEADLYSIGNAL\n")
    assert r is not None and (r.crash_type, r.tier, r.frames) == ("deadly-signal", 1, [])


def test_crlf_line_endings_parse_the_same() -> None:
    r = parse_report(text_of("asan_heap_use_after_free_write").replace("\n", "\r\n"))
    assert r is not None and r == parsed("asan_heap_use_after_free_write")


# ------------------------------------------------------------------------------------------------ robustness


def test_truncated_header_only_gives_partial_report() -> None:
    r = parsed("truncated_asan_header_only")
    assert (r.crash_type, r.address, r.frames, r.tier) == ("heap-buffer-overflow", 0x602000000040, [], 2)


def test_truncated_mid_stack_keeps_what_was_printed() -> None:
    r = parsed("truncated_mid_stack")
    assert (r.crash_type, r.access, r.size, r.tier) == ("heap-buffer-overflow", "WRITE", 4, 3)
    assert crash_site(r) == crash_site(parsed("asan_heap_buffer_overflow_write"))


def test_truncated_tail_falls_back_to_summary_line() -> None:
    r = parsed("truncated_tail_only")
    assert r.crash_type == "heap-buffer-overflow"
    assert crash_site(r) == ("parse_opts", "/tmp/triage_gen/bugs.c", 28)


def test_truncated_ubsan_mid_frame() -> None:
    r = parsed("truncated_ubsan_mid_frame")
    assert (r.crash_type, r.tier, crash_site(r)[0]) == ("index-out-of-bounds", 2, "lookup")


@pytest.mark.parametrize(
    "name", ["empty", "garbage_text", "binary_junk", "no_crash_program_output", "GENERATOR_bugs_c"]
)
def test_no_report_found(name: str) -> None:
    assert parse_report(text_of(name)) is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_prefix_and_suffix_parses_without_raising(name: str) -> None:
    text = text_of(name)
    step = max(1, len(text) // 25)
    for cut in range(0, len(text) + 1, step):
        for piece in (text[:cut], text[cut:]):
            r = parse_report(piece)
            assert r is None or isinstance(r, CrashReport)


def test_binary_junk_never_raises() -> None:
    rnd = random.Random(7)
    for _ in range(20):
        blob = rnd.randbytes(rnd.randrange(0, 20_000))
        for text in (
            blob.decode("latin-1"),
            blob.decode("utf-8", "replace"),
            blob.decode("utf-8", "surrogateescape"),
        ):
            r = parse_report(text, input_bytes=blob)
            assert r is None or isinstance(r, CrashReport)
    # junk spliced into real reports
    real = text_of("asan_heap_buffer_overflow_write")
    for _ in range(50):
        i = rnd.randrange(len(real))
        junk = rnd.randbytes(rnd.randrange(1, 200)).decode("latin-1")
        r = parse_report(real[:i] + junk + real[i:], input_bytes=junk.encode("latin-1"))
        assert r is None or isinstance(r, CrashReport)


_UAF = "asan_heap_use_after_free_write"
_SEGV_HEADER = "==1==ERROR: AddressSanitizer: SEGV on unknown address 0x0 (pc 0x1 bp 0x2 sp 0x3 T0)\n"
_FRAME = "    #0 0x55b1634a517e in f /a.c:1:2\n"
# ~10 MB adversarial and realistic inputs, built on demand
BIG_INPUTS: dict[str, Callable[[], str]] = {
    "short_lines": lambda: "a\n" * 5_000_000,
    "one_line": lambda: "x" * 10_000_000,
    "random": lambda: random.Random(11).randbytes(10_000_000).decode("latin-1"),
    "error_spam": lambda: "==1==ERROR: AddressSanitizer: " * 350_000,
    "runtime_error_spam": lambda: "runtime error: " * 700_000,
    "frames_without_header": lambda: _FRAME * 280_000,
    "header_then_huge_stack": lambda: _SEGV_HEADER + _FRAME * 280_000,
    "hash_spam": lambda: "#" * 10_000_000,
    "program_output_then_report": lambda: "hello, world\n" * 760_000 + text_of(_UAF),
}


@pytest.mark.parametrize("kind", list(BIG_INPUTS))
def test_ten_megabyte_inputs_are_fast(kind: str) -> None:
    text = BIG_INPUTS[kind]()
    assert len(text) >= 9_000_000
    start = time.perf_counter()
    r = parse_report(text)
    assert time.perf_counter() - start < 3.0
    if kind == "program_output_then_report":
        assert r is not None and r.stack_hash == parsed(_UAF).stack_hash
    if kind in {"short_lines", "one_line", "random", "frames_without_header", "hash_spam"}:
        assert r is None


# -- a report the parser cannot read is `unparsed`, never "no crash" ----------------------------------


def _broken_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from aslgate.cyber import triage

    def boom(*_a: object, **_k: object) -> object:
        raise IndexError("list index out of range")

    monkeypatch.setattr(triage, "_build", boom)  # a bug inside the parser, after a header was found


def test_a_parser_failure_is_unparsed_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from aslgate.cyber.triage import UnparsedReport

    text = (REPORTS / "asan_heap_buffer_overflow_write_unsymbolized.txt").read_text()
    assert parse_report(text) is not None  # the report parses normally
    _broken_parser(monkeypatch)
    with pytest.raises(UnparsedReport, match=r"triage parser failed \(IndexError: list index out of range\)"):
        parse_report(text)
    assert parse_report("hello, no sanitizer here\n") is None  # no report is still no report


def test_the_triage_command_shows_unparsed_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from aslgate.cli import app

    report = tmp_path / "r.txt"
    report.write_text((REPORTS / "asan_heap_buffer_overflow_write_unsymbolized.txt").read_text())
    runner = CliRunner()
    assert runner.invoke(app, ["triage", str(report)]).exit_code == 0
    _broken_parser(monkeypatch)
    r = runner.invoke(app, ["triage", str(report)])
    assert r.exit_code == 3 and "unparsed: the triage parser failed (IndexError" in r.output, r.output
    r = runner.invoke(app, ["triage", str(report), "--json"])
    assert r.exit_code == 3 and json.loads(r.output)["crashed"] is None
    assert "IndexError" in json.loads(r.output)["unparsed"]
