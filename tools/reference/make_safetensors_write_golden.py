"""Golden file for the .safetensors writer (io/safetensors_write.c).

Writes tests/fixtures/safetensors_write/ref.safetensors with the reference
writer, safetensors.torch.save_file (safetensors 0.8.0), from small tensors
whose values the C test builds itself:

  "b.weight"  F32  [2, 3]  i * 0.5 - 1 for i = 0..5
  "a.half"    F16  [3]     1, -2, 0.5
  "z.count"   I64  [2]     1, -1
  "c"         F64  []      3.25  (a scalar)
  "empty"     F32  [0, 4]
  "bytes"     U8   [5]     0..4
  "m.bf"      BF16 [1]     1.5
  metadata {"format": "pt"}

and tests/fixtures/safetensors_write/padded.safetensors: one tensor
"x" F32 [1] = 2.0 with the same metadata, whose header needs space padding.

The C writer must produce exactly these bytes (same tensor order, header,
padding), whatever order the tensors are declared in.

Run: /opt/ldmref/bin/python tools/reference/make_safetensors_write_golden.py
"""
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "fixtures", "safetensors_write")


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {
        "b.weight": (torch.arange(6, dtype=torch.float32) * 0.5 - 1).reshape(2, 3),
        "a.half": torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16),
        "z.count": torch.tensor([1, -1], dtype=torch.int64),
        "c": torch.tensor(3.25, dtype=torch.float64),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        "bytes": torch.arange(5, dtype=torch.uint8),
        "m.bf": torch.tensor([1.5], dtype=torch.bfloat16),
    }
    save_file(tensors, os.path.join(OUT, "ref.safetensors"), metadata={"format": "pt"})
    save_file({"x": torch.tensor([2.0])}, os.path.join(OUT, "padded.safetensors"),
              metadata={"format": "pt"})


if __name__ == "__main__":
    main()
