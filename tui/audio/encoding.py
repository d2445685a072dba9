"""How audio is encoded, as the request body's ``format`` declares it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

FORMAT_TYPES = ("mp3", "wav", "ogg", "pcm", "m4a")


@dataclass(frozen=True)
class AudioFormat:
    """``format`` of the request body. pcm needs codec, rate, bits and channel."""

    type: str
    codec: str | None = None
    rate: int | None = None
    bits: int | None = None
    channel: int | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type}
        if self.type == "pcm":
            out.update(
                codec=self.codec or "pcm_s16le",
                rate=self.rate,
                bits=self.bits,
                channel=self.channel,
            )
        return out

    def as_dict(self) -> dict[str, object]:
        """Every field, for storing (``AudioFormat(**d)`` reads it back)."""
        return asdict(self)
