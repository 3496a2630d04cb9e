"""Fixtures for the PyTorch .bin reader (io/pickle.c, io/torch_bin.c).

Run with the reference interpreter:

    /opt/ldmref/bin/python tools/reference/make_torchbin_fixtures.py

Writes into tests/fixtures/torchbin/:

* Good files, written by torch.save itself, each with a golden made by torch:
    dtypes.bin   F32/F16/BF16/F64/I64 tensors, a 0-d scalar, an empty [0,3]
                 tensor, nn.Parameter values (with and without Python state)
    views.bin    a view with a storage offset, two tensors sharing one
                 storage, a whole storage next to its view, a transposed and
                 a strided (non-contiguous) tensor, an F16 view
    module.bin   nn.Module.state_dict(): an OrderedDict with `_metadata`
    proto4.bin   torch.save(..., pickle_protocol=4) into a BytesIO (archive
                 folder "archive"; FRAME, MEMOIZE, STACK_GLOBAL opcodes)
  For each, <stem>.json lists every tensor as torch sees it (name, dtype,
  shape, stride, storage_offset, and `at`: where its values start in
  <stem>.f64), and <stem>.f64 holds t.double().contiguous() of every tensor,
  raw little-endian float64, concatenated (exact for every dtype used here).

* Bad and malicious files, which the reader must refuse with LDM_EINPUT:
    evil_os_system.bin     data.pkl calls os.system via GLOBAL + REDUCE
    evil_eval.bin          data.pkl uses the global builtins.eval
    bad_offset.bin         storage offset beyond its 12-element storage
    bad_stride.bin         shape/stride reaching past the storage end
    bad_shape_overflow.bin shape whose element count overflows int64
    size_mismatch.bin      data/0 has fewer bytes than the pickle says
    missing_entry.bin      data.pkl refers to data/1, which is absent
    missing_pkl.bin        a zip with storages but no data.pkl
    truncated.bin          the first 60% of dtypes.bin
    compressed.bin         views.bin with its storages deflated
    bigendian.bin          byteorder says "big"
    legacy.bin             torch.save(..., _use_new_zipfile_serialization=False)
    not_state_dict.bin     a training checkpoint {'state_dict': {...}, 'epoch': 3}
    two_archives.bin       two top-level folders with a data.pkl each
    control_name.bin       an archive folder name with control bytes (tab, DEL)
  The malicious pickles are built as bytes (or with a stub pickler) and are
  never unpickled here.

It also refreshes the fuzz seed corpora: tests/fuzz/corpus/zip/ (copies of
every .bin above) and tests/fuzz/corpus/pickle/ (every data.pkl, plus the
raw malicious pickles).
"""

import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "torchbin")
CORPUS_PICKLE = os.path.join(ROOT, "tests", "fuzz", "corpus", "pickle")
CORPUS_ZIP = os.path.join(ROOT, "tests", "fuzz", "corpus", "zip")

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
}


def path(name):
    return os.path.join(OUT, name)


def write_golden(stem, sd):
    """<stem>.json + <stem>.f64 from the tensors as torch sees them."""
    index, blobs, at = [], [], 0
    for name, t in sd.items():
        t = t.detach()
        vals = t.double().contiguous().reshape(-1)
        index.append({
            "name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
            "stride": list(t.stride()), "storage_offset": t.storage_offset(), "at": at,
        })
        blobs.append(vals.numpy().astype("<f8").tobytes())
        at += vals.numel()
    with open(path(stem + ".json"), "w") as f:
        lines = ",\n  ".join(json.dumps(e) for e in index)
        f.write('{"file": "%s.bin", "tensors": [\n  %s\n]}\n' % (stem, lines))
    with open(path(stem + ".f64"), "wb") as f:
        f.write(b"".join(blobs))


def save_good(stem, sd, **kw):
    torch.save(sd, path(stem + ".bin"), **kw)
    # What torch reads back is the golden, not what we meant to write.
    back = torch.load(path(stem + ".bin"), weights_only=True)
    assert list(back.keys()) == list(sd.keys())
    write_golden(stem, back)


def good_files():
    g = torch.Generator().manual_seed(1234)

    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4, generator=g)
    sd["f16"] = (torch.randn(5, generator=g) * 100).half()
    sd["f16_special"] = torch.tensor([6.0e-8, -0.0, 65504.0, 1.0 / 3.0], dtype=torch.float16)
    sd["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    sd["f64"] = torch.randn(4, generator=g, dtype=torch.float64)
    sd["i64"] = torch.tensor([0, -7, 1 << 40], dtype=torch.int64)
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.empty(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    p = torch.nn.Parameter(torch.randn(3, generator=g))
    p.tag = "has python state"  # pickled via _rebuild_parameter_with_state
    sd["param_state"] = p
    save_good("dtypes", sd)

    base = torch.randn(24, generator=g)
    shared = torch.randn(12, generator=g)
    half = torch.randn(10, generator=g).half()
    sd = collections.OrderedDict()
    sd["view"] = base[5:17].view(3, 4)            # storage_offset 5
    sd["whole"] = base                            # same storage as "view"
    sd["shared_a"] = shared[0:6].view(2, 3)       # two tensors, one storage
    sd["shared_b"] = shared[6:12]
    sd["transposed"] = torch.randn(4, 5, generator=g).t()
    sd["strided"] = torch.randn(6, 6, generator=g)[::2, 1::3]
    sd["half_view"] = half[3:9].view(2, 3)
    save_good("views", sd)

    torch.manual_seed(7)
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3),
                            torch.nn.Conv2d(2, 2, 3))
    sd = m.state_dict()
    assert hasattr(sd, "_metadata")
    save_good("module", sd)

    sd = {"w": torch.randn(2, 3, generator=g), "idx": torch.arange(5),
          "b": torch.randn(3, generator=g).bfloat16()}
    buf = io.BytesIO()
    torch.save(sd, buf, pickle_protocol=4)
    with open(path("proto4.bin"), "wb") as f:
        f.write(buf.getvalue())
    # torch's weights_only unpickler has no FRAME opcode; this file is our own.
    write_golden("proto4", torch.load(path("proto4.bin"), weights_only=False))


# ---- hand-made bad files ------------------------------------------------

def entry(name, method=zipfile.ZIP_STORED):
    """A zip member with a fixed timestamp, so reruns give identical bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = method
    return info


def write_zip(name, archive, pkl, storages, byteorder=b"little", compress=False):
    """A zip laid out like torch.save's (without its 64-byte alignment)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path(name), "w") as z:
        if pkl is not None:
            z.writestr(entry(archive + "/data.pkl"), pkl)
        z.writestr(entry(archive + "/byteorder"), byteorder)
        for key, data in storages.items():
            z.writestr(entry(archive + "/data/" + key, method), data)
        z.writestr(entry(archive + "/version"), b"3\n")


class StubStorage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class StubTensor:
    """Pickles exactly like a tensor, with whatever geometry we choose."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class StubPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, StubStorage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def stub_pickle(tensors):
    buf = io.BytesIO()
    StubPickler(buf, protocol=2).dump(collections.OrderedDict(tensors))
    return buf.getvalue()


def f32_bytes(n):
    return struct.pack("<%df" % n, *[float(i) for i in range(n)])


def evil_pickle(module, name, arg):
    """OrderedDict() with one value computed by module.name(arg): bytes by
    hand, so nothing here can import or call the global."""
    def unicode(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b
    return (b"\x80\x02" + b"ccollections\nOrderedDict\nq\x00)Rq\x01("
            + unicode("weight") + b"c" + module.encode() + b"\n" + name.encode() + b"\nq\x02"
            + unicode(arg) + b"\x85q\x03Rq\x04u.")


def bad_files():
    fs = StubStorage(torch.FloatStorage, "0", 12)

    for stem, mod, name, arg in (("evil_os_system", "os", "system", "echo ldm-pickle-test"),
                                 ("evil_eval", "builtins", "eval", "1+1")):
        pkl = evil_pickle(mod, name, arg)
        write_zip(stem + ".bin", stem, pkl, {"0": f32_bytes(12)})
        with open(os.path.join(CORPUS_PICKLE, stem + ".pkl"), "wb") as f:
            f.write(pkl)

    write_zip("bad_offset.bin", "bad_offset",
              stub_pickle({"w": StubTensor(fs, 100, (2,), (1,))}), {"0": f32_bytes(12)})
    write_zip("bad_stride.bin", "bad_stride",
              stub_pickle({"w": StubTensor(fs, 0, (3, 4), (4, 2))}), {"0": f32_bytes(12)})
    write_zip("bad_shape_overflow.bin", "bad_shape_overflow",
              stub_pickle({"w": StubTensor(fs, 0, (1 << 62, 4), (0, 0))}), {"0": f32_bytes(12)})
    write_zip("size_mismatch.bin", "size_mismatch",
              stub_pickle({"w": StubTensor(fs, 0, (12,), (1,))}), {"0": f32_bytes(10)})
    write_zip("missing_entry.bin", "missing_entry",
              stub_pickle({"a": StubTensor(fs, 0, (12,), (1,)),
                           "b": StubTensor(StubStorage(torch.FloatStorage, "1", 4), 0, (4,), (1,))}),
              {"0": f32_bytes(12)})
    write_zip("missing_pkl.bin", "missing_pkl", None, {"0": f32_bytes(12)})
    write_zip("bigendian.bin", "bigendian",
              stub_pickle({"w": StubTensor(fs, 0, (12,), (1,))}), {"0": f32_bytes(12)},
              byteorder=b"big")

    with open(path("dtypes.bin"), "rb") as f:
        whole = f.read()
    with open(path("truncated.bin"), "wb") as f:
        f.write(whole[: len(whole) * 6 // 10])

    # views.bin repacked with deflated storages.
    with zipfile.ZipFile(path("views.bin")) as src, \
            zipfile.ZipFile(path("compressed.bin"), "w") as dst:
        for info in src.infolist():
            method = zipfile.ZIP_DEFLATED if "/data/" in info.filename else zipfile.ZIP_STORED
            dst.writestr(entry(info.filename.replace("views/", "compressed/", 1), method),
                         src.read(info.filename))

    # (Its storage keys are memory addresses: the only file that differs between runs.)
    torch.save({"w": torch.arange(4.0)}, path("legacy.bin"), _use_new_zipfile_serialization=False)
    torch.save({"state_dict": {"w": torch.arange(4.0)}, "epoch": 3}, path("not_state_dict.bin"))

    pkl = stub_pickle({"w": StubTensor(fs, 0, (12,), (1,))})
    with zipfile.ZipFile(path("two_archives.bin"), "w") as z:
        for a in ("a", "b"):
            z.writestr(entry(a + "/data.pkl"), pkl)
            z.writestr(entry(a + "/data/0"), f32_bytes(12))


    # Non-ASCII makes zipfile set the UTF-8 flag; without it libzip would
    # read the name as CP437, where control bytes are printable symbols; with
    # it, libzip itself refuses control bytes other than tab, CR and LF.
    write_zip("control_name.bin", "\u00e9\tx\x7f", pkl, {"0": f32_bytes(12)})


def corpora():
    for name in sorted(os.listdir(OUT)):
        if not name.endswith(".bin"):
            continue
        with open(path(name), "rb") as f:
            data = f.read()
        with open(os.path.join(CORPUS_ZIP, name), "wb") as f:
            f.write(data)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for entry in z.namelist():
                    if entry.endswith("/data.pkl"):
                        with open(os.path.join(CORPUS_PICKLE, name[:-4] + ".pkl"), "wb") as f:
                            f.write(z.read(entry))
        except zipfile.BadZipFile:
            pass


def main():
    for d in (OUT, CORPUS_PICKLE, CORPUS_ZIP):
        os.makedirs(d, exist_ok=True)
    good_files()
    bad_files()
    corpora()


if __name__ == "__main__":
    main()
