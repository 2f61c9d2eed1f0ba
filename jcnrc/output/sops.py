"""`secrets.mode: sops`: the Secret manifest is encrypted with the `sops` program as it goes to
the output folder, and an unchanged Secret keeps the ciphertext the folder already holds.

This is the output stage's work: it owns the output folder, reads the previous Secret there
without following links (``write.read_output_file``), and hands the renderer nothing back. Without
the program the build stops with `SopsUnavailable`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from jcnrc.output.write import read_output_file

SOPS_ENCRYPTED_REGEX = "^(data|stringData)$"  # Flux: metadata, kind and apiVersion stay readable


class SopsUnavailable(Exception):
    """`secrets.mode: sops` without the `sops` program."""

    def __init__(self, path_value: str) -> None:
        super().__init__(
            "`secrets.mode: sops` needs the `sops` program, which is not on PATH"
            + (f" ({path_value})" if path_value else "")
            + "; install it (https://github.com/getsops/sops) with a .sops.yaml that names your keys, "
            "or use `mode: external-secrets` or `mode: reference`"
        )


class SopsFailed(Exception):
    """`sops` ran and failed; its message, which never holds the plaintext, is kept."""


def find_sops(environ: Mapping[str, str]) -> str:
    """The `sops` executable on the PATH of `environ`; raises SopsUnavailable."""
    path_value = environ.get("PATH", "")
    found = shutil.which("sops", path=path_value)
    if found is None:
        raise SopsUnavailable(path_value)
    return found


def sops_encrypt(plaintext: str, *, sops: str, cwd: Path, environ: Mapping[str, str],
                 previous: str | None = None, config: Path | None = None) -> str:
    """Encrypt a Secret manifest with sops, reusing `previous` when it holds the same plaintext.

    sops encrypts with a fresh data key, IV and timestamp every time, so re-encrypting unchanged
    values would change the file on every build and `--check` could never pass. When the previous
    encrypted file decrypts (with the builder's key) to the same text, it is returned unchanged.
    `cwd` is where sops looks for `.sops.yaml` (the folder of the intent) unless `config` names the
    operator's own file: the intent's repository then cannot choose the recipients.
    """
    program = _program(sops, config)
    if previous is not None and _sops_decrypt(previous, program, cwd, environ) == plaintext:
        return previous
    return _run_sops(
        [*program, "--encrypt", "--encrypted-regex", SOPS_ENCRYPTED_REGEX,
         "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
        plaintext, cwd, environ, "encrypting the Secret")


def _program(sops: str, config: Path | None) -> list[str]:
    """sops and its global options: `--config` stops its search for `.sops.yaml` in the repository."""
    return [sops] if config is None else [sops, "--config", str(config)]


def _sops_decrypt(encrypted: str, program: list[str], cwd: Path, environ: Mapping[str, str]) -> str | None:
    try:
        return _run_sops([*program, "--decrypt", "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
                         encrypted, cwd, environ, "decrypting the previous Secret")
    except SopsFailed:
        return None  # no key to decrypt with here: encrypt afresh


def _run_sops(argv: list[str], stdin: str, cwd: Path, environ: Mapping[str, str], what: str) -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=cwd,
                              env=dict(environ), timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SopsFailed(f"sops failed {what}: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
        raise SopsFailed(f"sops failed {what}: {detail}")
    return done.stdout


def is_secret_manifest(path: str, manifests: str) -> bool:
    return path.startswith(f"{manifests}/secret-") and path.endswith(".yaml")


def encrypt_secrets(files: dict[str, str], *, manifests: str, sops: str, cwd: Path, environ: Mapping[str, str],
                    output: Path | None, config: Path | None = None) -> dict[str, str]:
    """`files` with every Secret manifest encrypted; raises SopsFailed. A Secret whose plaintext
    equals what the previous build's file in `output` decrypts to keeps that file's bytes."""
    encrypted = dict(files)
    for path, text in files.items():
        if is_secret_manifest(path, manifests):
            encrypted[path] = sops_encrypt(text, sops=sops, cwd=cwd, environ=environ, previous=_previous(output, path),
                                           config=config)
    return encrypted


def _previous(output: Path | None, path: str) -> str | None:
    """The file of the previous build, exactly as stored (CR LF stays CR LF), read without following
    any link (the output folder is in the repository too); None when there is none or it is not UTF-8."""
    data = read_output_file(output, path) if output is not None else None
    try:
        return data.decode("utf-8") if data is not None else None
    except UnicodeDecodeError:
        return None
