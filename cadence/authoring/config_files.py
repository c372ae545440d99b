"""The team, personas and value propositions marketing keeps in ``config/`` (TOML).

Validated with pydantic so an error names the file and the field.
"""

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator

from cadence.authoring.mailbox_config import Mailbox
from cadence.core.errors import DefinitionError

_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Company(_Strict):
    name: str = Field(min_length=1)
    domain: str = Field(min_length=3, description="Message-IDs are minted on this domain")
    postal_address: str = Field(min_length=5, description="Required in drip footers")


class Sender(_Strict):
    """An SDR: the owner of prospects and the person emails go out as."""

    name: str = Field(pattern=_KEY_PATTERN)
    full_name: str = Field(min_length=1)
    email: EmailStr
    title: str = ""
    phone: str = ""
    daily_cap: int = Field(default=200, ge=1, description="emails a UTC day from this mailbox")
    per_minute: int = Field(default=30, ge=1, description="emails a minute from this mailbox")
    #: The SDR's own mailbox; without one, the team transport sends their mail.
    mailbox: Mailbox | None = None

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0]


class Team(_Strict):
    company: Company
    sdr: tuple[Sender, ...] = Field(min_length=1)
    default_owner: str | None = None
    default_timezone: str | None = Field(
        default=None, description="for imported prospects with neither time zone nor country"
    )

    def sender(self, owner: str | None) -> Sender:
        wanted = owner or self.default_owner or self.sdr[0].name
        for sender in self.sdr:
            if sender.name == wanted:
                return sender
        known = ", ".join(s.name for s in self.sdr)
        raise DefinitionError(f"unknown owner {wanted!r}; known owners: {known}")


class Persona(_Strict):
    key: str = Field(pattern=_KEY_PATTERN)
    name: str
    role: str = ""
    pains: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    rewards: tuple[str, ...] = ()


class ValueProposition(_Strict):
    key: str = Field(pattern=_KEY_PATTERN)
    claim: str = Field(min_length=5, description="Measurable, for example 'cut ramp time 40%'")
    proof: str = ""
    personas: tuple[str, ...] = ()

    @field_validator("claim")
    @classmethod
    def _measurable(cls, claim: str) -> str:
        if not any(ch.isdigit() for ch in claim):
            raise ValueError("a value proposition must be measurable: include a number")
        return claim


class _PersonaFile(_Strict):
    persona: tuple[Persona, ...] = Field(min_length=1)


class _ValuePropositionFile(_Strict):
    value_proposition: tuple[ValueProposition, ...] = Field(min_length=3, max_length=5)


_Model = TypeVar("_Model", bound=BaseModel)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DefinitionError(
            f"{path}: missing; run from a folder with config/ or set CADENCE_CONFIG_DIR"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from exc


def _validated(model: type[_Model], path: Path) -> _Model:
    try:
        return model.model_validate(_read_toml(path))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise DefinitionError(f"{path}: {problems}") from exc


def load_team(config_dir: Path) -> Team:
    team = _validated(Team, config_dir / "team.toml")
    if team.default_owner is not None:
        team.sender(team.default_owner)
    return team


def load_personas(config_dir: Path) -> dict[str, Persona]:
    personas = _validated(_PersonaFile, config_dir / "personas.toml").persona
    return {p.key: p for p in personas}


def load_value_propositions(
    config_dir: Path, personas: dict[str, Persona]
) -> tuple[ValueProposition, ...]:
    path = config_dir / "value_propositions.toml"
    props = _validated(_ValuePropositionFile, path).value_proposition
    for prop in props:
        for persona in prop.personas:
            if persona not in personas:
                raise DefinitionError(
                    f"{path}: value_proposition {prop.key}: unknown persona {persona!r}"
                )
    return props
