from pathlib import Path

import pytest

from daguerre.platform.config import ConfigError, load_settings


def test_defaults_put_sqlite_in_home(tmp_path: Path):
    s = load_settings(env={"DAGUERRE_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    assert (s.clip_model, s.clip_weights, s.device) == ("ViT-B-32", "laion2b_s34b_b79k", "auto")


def test_env_beats_toml_file(tmp_path: Path):
    cfg = tmp_path / "daguerre.toml"
    cfg.write_text('clip_model = "RN50"\nclip_weights = "openai"\nbatch_size = 8\n')
    s = load_settings(env={"DAGUERRE_HOME": str(tmp_path), "DAGUERRE_CLIP_MODEL": "ViT-L-14"})
    assert (s.clip_model, s.clip_weights, s.batch_size) == ("ViT-L-14", "openai", 8)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DAGUERRE_BATCH_SIZE": "lots"}, "DAGUERRE_BATCH_SIZE must be an integer"),
        ({"DAGUERRE_DEVICE": "tpu"}, "DAGUERRE_DEVICE must be"),
        ({"DAGUERRE_DRAFT_DECODE": "maybe"}, "DAGUERRE_DRAFT_DECODE must be true or false"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, env: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        load_settings(env={"DAGUERRE_HOME": str(tmp_path), **env})


def test_unknown_toml_key_is_refused(tmp_path: Path):
    cfg = tmp_path / "x.toml"
    cfg.write_text("clip_modle = 'typo'\n")
    with pytest.raises(ConfigError, match="unknown key 'clip_modle'"):
        load_settings(env={"DAGUERRE_HOME": str(tmp_path), "DAGUERRE_CONFIG": str(cfg)})


def test_diffusion_models_are_settings_a_toml_file_can_set(tmp_path: Path):
    (tmp_path / "daguerre.toml").write_text(
        f'upscale_model = "{tmp_path / "x4"}"\noffline = true\n')
    s = load_settings(env={"DAGUERRE_HOME": str(tmp_path)})
    assert s.upscale_model == str(tmp_path / "x4") and s.offline is True
    assert s.diffusion_model("upscale") == str(tmp_path / "x4")
    # Empty: the generator's public default for the task.
    assert s.diffusion_model("inpaint") == "stable-diffusion-v1-5/stable-diffusion-inpainting"


def test_a_model_variable_beats_the_toml_file(tmp_path: Path):
    (tmp_path / "daguerre.toml").write_text('upscale_model = "org/from-toml"\noffline = true\n')
    s = load_settings(env={"DAGUERRE_HOME": str(tmp_path), "DAGUERRE_UPSCALE_MODEL": "org/env",
                           "DAGUERRE_OFFLINE": "no"})
    assert s.diffusion_model("upscale") == "org/env" and s.offline is False
    with pytest.raises(ValueError, match="unknown generator task"):
        s.diffusion_model("colorize")


def test_write_setting_keeps_any_text_readable(tmp_path: Path) -> None:
    """A value with a character beyond U+FFFF, a quote, a backslash and DEL is written as TOML
    that reads back as the same text (JSON's ASCII escapes would make it a surrogate pair)."""
    import tomllib

    from daguerre.platform.config import write_setting

    settings = load_settings(env={}, home=str(tmp_path))
    value = 'photos 📷 "old"\\scans\x7f'
    path, _ = write_setting(settings, "clip_weights", value, env={})
    assert tomllib.loads(path.read_text(encoding="utf-8"))["clip_weights"] == value
    assert load_settings(env={}, home=str(tmp_path)).clip_weights == value
