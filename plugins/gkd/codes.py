"""Error codes of the GKD plugin (VD740–VD749)."""

from vlmdata.errors import define

VISUAL_TARGET_MISSING = define(
    "VD740",
    "Visual KD target not found in the model",
    "Visual KD supports Qwen3-VL's vision tower (blocks, merger, deepstack mergers); disable the target for other models.",
)
FUSED_MISMATCH = define(
    "VD741",
    "Student and teacher score different numbers of tokens",
    "The fused JSD pairs the student's and the teacher's supervised positions one to one: both must see the "
    "same completion tokens (check the teacher's template and labels).",
)
