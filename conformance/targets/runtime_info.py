"""What a deployment target records beside its versions: the CPU features that can change numerics.

A runtime may pick a kernel by what the CPU offers (AVX-512, bfloat16 or AMX
units, VNNI), and with it the rounding; the report says what this machine has,
so that a run on another machine can be told apart.
"""

NUMERIC_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx_vnni",
                 "amx_bf16", "amx_int8", "amx_fp16", "amx_tile")


def cpu_features():
    """The numerics-relevant flags of /proc/cpuinfo as one string (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return " ".join(f for f in NUMERIC_FLAGS if f in flags)
    except OSError:
        pass
    return ""
