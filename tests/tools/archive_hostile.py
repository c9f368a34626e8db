#!/usr/bin/python3
"""Hostile bundle archives, one per attack class, built from a valid bundle.

usage: archive_hostile.py BUNDLE_DIR OUT_DIR

BUNDLE_DIR is a valid exported bundle (a directory). For every class of
archive that the reader must refuse, this writes OUT_DIR/<case>.tar.gz or
OUT_DIR/<case>.zip and a line of OUT_DIR/index.tsv:

    <case> TAB <file name> TAB <text the [ERROR] line must hold>

Each archive differs from a valid one in the one way its case names, so
that it is refused for that reason and no other. Two more archives,
demo_pax_global.tar.gz and demo_zip_names.zip, are the attacks that a reader
seeing less than every header accepted: the first extracts with GNU tar to a
forged artifacts/000000000002.json, the second with unzip to artifact 3's
bytes under artifact 2's name.

Only the standard library: struct, zlib, tarfile (for the pax record layout).
"""
import os
import struct
import sys
import zlib

# ---------------------------------------------------------------- input


def bundle_files(root):
    """(path, bytes) in the order the writer uses: manifest.json, manifest.sig, the rest sorted."""
    rest = []
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.relpath(os.path.join(d, f), root)
            if p not in ("manifest.json", "manifest.sig"):
                rest.append(p)
    out = []
    for p in ["manifest.json", "manifest.sig"] + sorted(rest):
        with open(os.path.join(root, p), "rb") as fh:
            out.append((p, fh.read()))
    return out


# ---------------------------------------------------------------- tar


def octal(n, width):
    return ("%0*o" % (width - 1, n)).encode() + b"\0"


def tar_header(path, length, **over):
    """One 512-byte ustar header; over replaces raw fields or sets 'chksum' to 'bad'/'signed'."""
    f = {
        "name": path.encode() if isinstance(path, str) else path,
        "mode": octal(0o444, 8),
        "uid": octal(0, 8),
        "gid": octal(0, 8),
        "size": octal(length, 12),
        "mtime": octal(1700000000, 12),
        "typeflag": b"0",
        "linkname": b"",
        "magic": b"ustar\x00",
        "version": b"00",
        "uname": b"root",
        "gname": b"root",
        "devmajor": octal(0, 8),
        "devminor": octal(0, 8),
        "prefix": b"",
        "pad": b"",
    }
    chk = over.pop("chksum", None)
    f.update(over)
    layout = [("name", 100), ("mode", 8), ("uid", 8), ("gid", 8), ("size", 12), ("mtime", 12),
              ("chksum", 8), ("typeflag", 1), ("linkname", 100), ("magic", 6), ("version", 2),
              ("uname", 32), ("gname", 32), ("devmajor", 8), ("devminor", 8), ("prefix", 155),
              ("pad", 12)]
    h = b""
    for k, n in layout:
        v = b" " * 8 if k == "chksum" else f[k]
        assert len(v) <= n, (k, v)
        h += v + b"\0" * (n - len(v))
    assert len(h) == 512
    usum = sum(h)
    ssum = sum(b - 256 if b > 127 else b for b in h)
    s = {"bad": usum + 1, "signed": ssum}.get(chk, usum)
    return h[:148] + ("%06o" % s).encode() + b"\0 " + h[156:]


def pad(data, byte=b"\0"):
    return data + byte * ((512 - len(data) % 512) % 512)


def tar_entry(path, data, padbyte=b"\0", **over):
    return tar_header(path, len(data), **over) + pad(data, padbyte)


def pax_body(kv):
    body = b""
    for k, v in kv:
        rec = b" %s=%s\n" % (k, v)
        n = len(rec) + 1
        while len(str(n).encode() + rec) != n:
            n += 1
        body += str(n).encode() + rec
    return body


def tar_of(files, end=b"\0" * 1024):
    return b"".join(tar_entry(p, d) for p, d in files) + end


def gz(data, flags=0, fextra=None, fname=None, fcomment=None, trailing=b""):
    h = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\x03"
    if fextra is not None:
        h += struct.pack("<H", len(fextra)) + fextra
    if fname is not None:
        h += fname + b"\0"
    if fcomment is not None:
        h += fcomment + b"\0"
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    return h + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF) + trailing


# ---------------------------------------------------------------- zip


def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


class ZipEntry:
    def __init__(self, name, data, method=8):
        self.name = name.encode() if isinstance(name, str) else name
        self.data = data
        self.method = method
        self.comp = deflate(data) if method == 8 else data
        self.crc = zlib.crc32(data)
        self.local = {}   # field overrides in the local header
        self.central = {}  # field overrides in the central record
        self.local_extra = b""
        self.central_extra = b""
        self.before = b""  # bytes before the local header
        self.offset = None  # central offset override

    def fields(self, over):
        f = {"need": 20, "flags": 0, "method": self.method, "time": 0, "date": 0x5821,
             "crc": self.crc, "csize": len(self.comp), "usize": len(self.data),
             "name": self.name, "made": 3 << 8 | 20, "ext": 0o100444 << 16, "disk": 0,
             "iattr": 0}
        f.update(over)
        return f

    def local_bytes(self):
        f = self.fields(self.local)
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, f["need"], f["flags"], f["method"],
                           f["time"], f["date"], f["crc"], f["csize"], f["usize"],
                           len(f["name"]), len(self.local_extra)) + f["name"] + \
            self.local_extra + self.comp


def zip_of(entries, order=None, extra_central=(), prefix=b"", between=b"", tail=b"",
           eocd_over=None, comment=b"", eocd_twice=False, zip64=False):
    out = bytearray(prefix)
    offs = []
    for e in entries:
        out += e.before
        offs.append(len(out))
        out += e.local_bytes()
    out += between
    cd = len(out)
    recs = []
    for i in (order if order is not None else range(len(entries))):
        recs.append((entries[i], offs[i] if entries[i].offset is None else entries[i].offset))
    for e, off in list(recs) + list(extra_central):
        f = e.fields(e.central)
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, f["made"], f["need"], f["flags"],
                           f["method"], f["time"], f["date"], f["crc"], f["csize"], f["usize"],
                           len(f["name"]), len(e.central_extra), 0, f["disk"], f["iattr"],
                           f["ext"], off) + f["name"] + e.central_extra
    n = len(recs) + len(extra_central)
    eocd = {"disk": 0, "cddisk": 0, "ndisk": n, "n": n, "cdsize": len(out) - cd, "cdoff": cd}
    eocd.update(eocd_over or {})
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, z64 - cd, cd)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    rec = struct.pack("<IHHHHIIH", 0x06054B50, eocd["disk"], eocd["cddisk"], eocd["ndisk"],
                      eocd["n"], eocd["cdsize"], eocd["cdoff"], len(comment)) + comment
    out += rec
    if eocd_twice:
        out += rec
    return bytes(out + tail)


# ---------------------------------------------------------------- cases


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: archive_hostile.py BUNDLE_DIR OUT_DIR")
    src, outdir = sys.argv[1], sys.argv[2]
    files = bundle_files(src)
    names = [p for p, _ in files]
    data = dict(files)
    a2, a3 = "artifacts/000000000002.json", "artifacts/000000000003.json"
    assert a2 in data and a3 in data, "the bundle needs artifacts 2 and 3"
    index = []

    def put(case, ext, blob, want):
        fn = case + ext
        with open(os.path.join(outdir, fn), "wb") as fh:
            fh.write(blob)
        index.append((case, fn, want))

    def entry_msg(name, why):
        return "Unsafe archive entry: %s (%s" % (name, why)

    # A tar.gz with one entry's header changed (the entry at position i, default artifact 2).
    def tgz_with(case, want, i=None, padbyte=b"\0", **over):
        i = names.index(a2) if i is None else i
        body = b""
        for k, (p, d) in enumerate(files):
            body += tar_entry(p, d, padbyte=padbyte, **over) if k == i else tar_entry(p, d)
        put(case, ".tar.gz", gz(body + b"\0" * 1024), want)

    # A tar.gz with extra blocks inserted before entry i.
    def tgz_insert(case, want, blocks, i=0, end=b"\0" * 1024, skip=None):
        body = b""
        for k, (p, d) in enumerate(files):
            if k == i:
                body += blocks
            if skip is None or p != skip:
                body += tar_entry(p, d)
        if i >= len(files):
            body += blocks
        put(case, ".tar.gz", gz(body + end), want)

    # --- the attacks themselves, as first found
    # GNU tar and Python apply a pax global `size` to every later member; a reader
    # that skips the global header reads the real bundle, they read what follows it.
    real = tar_of(files)
    forged = data[a2].replace(b'"seq":2', b'"seq":2,"forged":true', 1)
    assert forged != data[a2]
    forged_part = (tar_entry("PaxHeaders/x", pax_body([(b"path", a2.encode()),
                                                       (b"size", str(len(forged)).encode())]),
                             typeflag=b"x") + tar_entry(a2, forged) + b"\0" * 1024)
    g = tar_entry("pax_global_header",
                  pax_body([(b"size", str(len(real) - 512).encode()), (b"path", b"manifest.json")]),
                  typeflag=b"g")
    put("demo_pax_global", ".tar.gz", gz(g + real + forged_part),
        entry_msg("pax_global_header", "pax global header, typeflag 'g'"))
    # unzip names an entry by its central record, a reader naming it by its local
    # header sees the real names: swap artifacts 2 and 3 in the central directory.
    zs = [ZipEntry(p, d) for p, d in files]
    i2, i3 = names.index(a2), names.index(a3)
    zs[i2].central["name"], zs[i3].central["name"] = zs[i3].name, zs[i2].name
    put("demo_zip_names", ".zip", zip_of(zs),
        entry_msg(a3, 'local header names it "%s"' % a2))

    # --- tar headers
    tgz_insert("tar_pax_x", entry_msg("PaxHeaders/manifest.json", "pax extended header, typeflag 'x'"),
               tar_entry("PaxHeaders/manifest.json", pax_body([(b"path", a2.encode())]),
                         typeflag=b"x"))
    tgz_insert("tar_gnu_longname", entry_msg("././@LongLink", "GNU long name, typeflag 'L'"),
               tar_entry("././@LongLink", a2.encode() + b"\0", typeflag=b"L"))
    tgz_insert("tar_gnu_longlink", entry_msg("././@LongLink", "GNU long link name, typeflag 'K'"),
               tar_entry("././@LongLink", a2.encode() + b"\0", typeflag=b"K"))
    tgz_insert("tar_gnu_longname_and_pax",
               entry_msg("././@LongLink", "GNU long name, typeflag 'L'"),
               tar_entry("././@LongLink", a3.encode() + b"\0", typeflag=b"L") +
               tar_entry("PaxHeaders/x", pax_body([(b"path", a2.encode())]), typeflag=b"x"))
    tgz_insert("tar_gnu_sparse", entry_msg(a2, "GNU sparse file, typeflag 'S'"),
               tar_header(a2, 0, typeflag=b"S"), i=len(files))
    for case, t, what in [("tar_hardlink", b"1", "hard link, typeflag '1'"),
                          ("tar_symlink", b"2", "symlink, typeflag '2'"),
                          ("tar_chardev", b"3", "character device, typeflag '3'"),
                          ("tar_blockdev", b"4", "block device, typeflag '4'"),
                          ("tar_directory", b"5", "directory, typeflag '5'"),
                          ("tar_fifo", b"6", "FIFO, typeflag '6'"),
                          ("tar_typeflag_nul", b"\0", "old-style regular file, typeflag NUL")]:
        over = {"typeflag": t}
        if t in (b"1", b"2"):
            over["linkname"] = b"manifest.json"
        name = "artifacts/" if t == b"5" else "artifacts/000000000009.json"
        tgz_insert(case, entry_msg(name, what), tar_header(name, 0, **over), i=len(files))
    tgz_with("tar_oldgnu_magic", entry_msg(a2, 'old GNU tar header (magic "ustar  ")'),
             magic=b"ustar ", version=b" \0")
    tgz_with("tar_base256_size", entry_msg(a2, "base-256 number in the size field"),
             size=b"\x80" + b"\0" * 7 + struct.pack(">I", len(data[a2])))
    tgz_with("tar_prefix", entry_msg(a2, "prefix field set"), prefix=b"evil")
    tgz_with("tar_name_hidden_data", entry_msg(a2, "data after the NUL ending the name"),
             name=a2.encode() + b"\0" + b"notes.txt")
    tgz_with("tar_linkname", entry_msg(a2, "link name set"), linkname=b"manifest.json")
    tgz_with("tar_bad_checksum", entry_msg(a2, "bad header checksum"), chksum="bad")
    tgz_with("tar_signed_checksum", entry_msg(a2, "header checksum matches only as a signed sum"),
             uname=b"r\xf6\xf6t", chksum="signed")
    tgz_with("tar_setuid", entry_msg(a2, "setuid, setgid or sticky bit"), mode=octal(0o4444, 8))
    tgz_with("tar_mode_not_octal", entry_msg(a2, "mode field is not an octal number"),
             mode=b"0000449\0")
    tgz_with("tar_size_junk", entry_msg(a2, "size field is not an octal number"),
             size=octal(len(data[a2]), 12)[:-1] + b"x")
    tgz_with("tar_nonzero_padding", entry_msg(a2, "non-zero byte in the padding after its data"),
             padbyte=b"A")
    put("tar_data_after_end", ".tar.gz", gz(tar_of(files) + tar_entry(a2, forged)),
        "Unsafe archive: data after the end-of-archive blocks (tar offset")
    put("tar_lone_zero_block", ".tar.gz",
        gz(b"".join(tar_entry(p, d) for p, d in files[:-1]) + b"\0" * 512 +
           tar_entry(*files[-1]) + b"\0" * 1024),
        "Unsafe archive: a lone zero block before more data (tar offset")
    put("tar_one_end_block", ".tar.gz", gz(tar_of(files, end=b"\0" * 512)),
        "Unsafe archive: one end-of-archive block, not two")
    put("tar_uncompressed", ".tar.gz", tar_of(files), "an uncompressed tar")

    # --- gzip
    t = tar_of(files)
    put("gzip_second_member", ".tar.gz", gz(t) + gz(b"\0" * 1024),
        "Unsafe archive: a second gzip member (gzip offset")
    put("gzip_fextra", ".tar.gz", gz(t, flags=0x04, fextra=b"AB\x02\0hi"),
        "Unsafe archive: gzip header with FEXTRA (gzip offset 3)")
    put("gzip_fcomment", ".tar.gz", gz(t, flags=0x10, fcomment=b"hello"),
        "Unsafe archive: gzip header with FCOMMENT (gzip offset 3)")
    put("gzip_trailing_data", ".tar.gz", gz(t, trailing=b"junk"),
        "Unsafe archive: data after the gzip trailer (gzip offset")
    put("gzip_trailing_zeros", ".tar.gz", gz(t, trailing=b"\0" * 512),
        "Unsafe archive: data after the gzip trailer (gzip offset")
    bad = bytearray(gz(t))
    bad[-8] ^= 1
    put("gzip_bad_crc", ".tar.gz", bytes(bad), "Archive damaged: gzip CRC-32 does not match the data")

    # --- zip
    def zips():
        return [ZipEntry(p, d) for p, d in files]

    def zip_case(case, want, **kw):
        put(case, ".zip", zip_of(kw.pop("entries"), **kw), want)

    for field, what, value in [("csize", "compressed size", None), ("usize", "size", None),
                               ("crc", "CRC-32", None), ("method", "compression method", 0),
                               ("flags", "flags", 8), ("need", "version needed", 10),
                               ("time", "modification time", 1)]:
        zs = zips()
        e = zs[i2]
        if value is None:
            value = e.fields({})[field] + 1
        e.local[field] = value
        zip_case("zip_local_" + field, entry_msg(a2, "local header and central directory disagree on the " + what),
                 entries=zs)
    zs = zips()
    zs[i2].local["name"] = a2.replace("2", "9").encode()
    zip_case("zip_local_name", entry_msg(a2, 'local header names it "%s"' % a2.replace("2", "9")),
             entries=zs)
    zs = zips()
    zs[i2].local_extra = b"UT\x05\0\x01\0\0\0\0"
    zip_case("zip_local_extra", entry_msg(a2, "extra field in its local header"), entries=zs)
    zs = zips()
    zs[i2].central_extra = b"UT\x05\0\x01\0\0\0\0"
    zip_case("zip_central_extra", entry_msg(a2, "extra field in its central record"), entries=zs)
    zs = zips()
    zs[i2].local["flags"] = zs[i2].central["flags"] = 8
    zip_case("zip_data_descriptor", entry_msg(a2, "data descriptor, flag bit 3"), entries=zs)
    zs = zips()
    zs[i2].local["flags"] = zs[i2].central["flags"] = 1
    zip_case("zip_encrypted", entry_msg(a2, "encrypted, flag bit 0"), entries=zs)
    zs = zips()
    zs[i2].local["flags"] = zs[i2].central["flags"] = 0x800
    zip_case("zip_utf8_flag", entry_msg(a2, "UTF-8 name flag, bit 11"), entries=zs)
    # Prepended data with the offsets moved along, as self-extracting archives do.
    zs = zips()
    zs[0].before = b"#!/bin/sh\necho hello\nexit 0\n"
    zip_case("zip_prepended", "Unsafe archive: %d bytes before the first local header (zip offset 0)"
             % len(zs[0].before), entries=zs)
    zip_case("zip_comment", "Unsafe archive: archive comment of 7 bytes", entries=zips(),
             comment=b"comment")
    zip_case("zip_two_eocd", "Unsafe archive: two end-of-central-directory records", entries=zips(),
             eocd_twice=True)
    zip_case("zip_trailing_data", "Unsafe archive: data after the end-of-central-directory record",
             entries=zips(), tail=b"junk" * 8)
    zs = zips()
    zs[i2].before = b"\0" * 16
    zip_case("zip_gap", entry_msg(a2, "gap of 16 bytes before its local header"), entries=zs)
    zip_case("zip_gap_before_central",
             "Unsafe archive: 5 bytes between the last entry and the central directory",
             entries=zips(), between=b"hello")
    zs = zips()
    extra = ZipEntry("artifacts/000000000009.json", data[a2])
    # Two central records for one local header: the second named otherwise.
    offs = []
    pos = 0
    for e in zs:
        offs.append(pos)
        pos += len(e.local_bytes())
    put("zip_overlap", ".zip", zip_of(zs, extra_central=[(extra, offs[i2])]),
        entry_msg("artifacts/000000000009.json", "shares its local header"))
    zs = zips()
    order = list(range(len(zs)))
    order[i2], order[i3] = order[i3], order[i2]
    zip_case("zip_central_order", entry_msg(a3, "local headers not in central-directory order"),
             entries=zs, order=order)
    zs = zips()
    zs[i2].central["ext"] = 0o120777 << 16
    zip_case("zip_symlink_attr", entry_msg(a2, "symlink, Unix mode 120777"), entries=zs)
    zs = zips()
    zs[i2].central["ext"] = 0o040755 << 16
    zip_case("zip_directory_attr", entry_msg(a2, "directory, Unix mode 040755"), entries=zs)
    zs = zips()
    zs[i2].central["ext"] = 0x10
    zs[i2].central["made"] = 20
    zip_case("zip_dos_directory", entry_msg(a2, "directory, MS-DOS attribute bit"), entries=zs)
    zs = zips()
    zs[i2].central["ext"] = 0o104444 << 16
    zip_case("zip_setuid", entry_msg(a2, "setuid, setgid or sticky bit"), entries=zs)
    zs = zips()
    zs[i2].central["made"] = 11 << 8 | 20
    zip_case("zip_made_by_ntfs", entry_msg(a2, "made by host system 11"), entries=zs)
    zip_case("zip_zip64_eocd", "Unsafe archive: zip64 marker in the end-of-central-directory record",
             entries=zips(), zip64=True, eocd_over={"n": 0xFFFF, "ndisk": 0xFFFF,
                                                     "cdsize": 0xFFFFFFFF, "cdoff": 0xFFFFFFFF})
    zs = zips()
    e = zs[i2]
    e.central["csize"] = e.central["usize"] = 0xFFFFFFFF
    e.central_extra = struct.pack("<HHQQ", 1, 16, len(e.data), len(e.comp))
    zip_case("zip_zip64_entry", entry_msg(a2, "zip64 marker in its central record"), entries=zs)
    zs = zips()
    e = zs[i2]
    e.method = 0
    e.comp = e.data + b"padding"
    zip_case("zip_stored_sizes", entry_msg(a2, "stored entry whose sizes disagree"), entries=zs)
    zs = zips()
    zs[i2].comp += b"junk after the stream"
    zip_case("zip_deflate_junk", entry_msg(a2, "21 bytes after the end of its deflate stream"),
             entries=zs)
    zs = zips()
    zs[i2].comp = deflate(data[a2] + b"x")
    zs[i2].crc = zlib.crc32(data[a2] + b"x")
    zip_case("zip_deflate_too_long", entry_msg(a2, "inflates to more than its stated size"),
             entries=zs)
    zs = zips()
    zs[i2].method = 9
    zs[i2].local["method"] = zs[i2].central["method"] = 9
    zip_case("zip_method_deflate64", entry_msg(a2, "compression method 9, not deflate or stored"),
             entries=zs)

    # --- names, in both forms
    for case, bad_name, why in [("name_dot_slash", "./manifest.json", "'.' component"),
                                ("name_dotdot", "artifacts/../manifest.json", "'..' component"),
                                ("name_absolute", "/manifest.json", "absolute path"),
                                ("name_backslash", "artifacts\\000000000002.json", "backslash in name"),
                                ("name_unknown", "notes.txt", "not a bundle path"),
                                ("name_seq_zero", "artifacts/000000000000.json", "not a bundle path"),
                                ("name_uppercase_hex", "keys/" + "A" * 64 + ".pem", "not a bundle path"),
                                ("name_directory", "artifacts/", "not a bundle path")]:
        shown = bad_name.replace("\\", "\\\\")
        content = b"" if bad_name.endswith("/") else b"extra\n"
        tgz_insert(case, entry_msg(shown, why), tar_entry(bad_name, content), i=len(files))
        zs = zips() + [ZipEntry(bad_name, content)]
        put(case, ".zip", zip_of(zs), entry_msg(shown, why))
    tgz_insert("name_duplicate", entry_msg("manifest.sig", "duplicate entry"),
               tar_entry("manifest.sig", data["manifest.sig"]), i=len(files))
    put("name_duplicate", ".zip", zip_of(zips() + [ZipEntry("manifest.sig", data["manifest.sig"])]),
        entry_msg("manifest.sig", "duplicate entry"))

    with open(os.path.join(outdir, "index.tsv"), "w") as fh:
        for case, fn, want in index:
            fh.write("%s\t%s\t%s\n" % (case, fn, want))


if __name__ == "__main__":
    main()
