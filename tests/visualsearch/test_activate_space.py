import pytest
from django.core.management import CommandError, call_command

from tests.factories import ProductImageFactory
from visualsearch.models import EmbeddingSpace
from visualsearch.spaces import space_register

pytestmark = pytest.mark.django_db


def test_a_space_missing_vectors_is_not_activated_without_force():
    ProductImageFactory()
    space_register(name="green", architecture="x", pretrained="y", dimension=8)
    with pytest.raises(CommandError, match="misses 1 image and 1 title"):
        call_command("activate_space", "green")
    assert not EmbeddingSpace.objects.get(name="green").is_active
    call_command("activate_space", "green", "--force")
    assert EmbeddingSpace.objects.get(name="green").is_active


def test_an_unknown_space_is_named_in_the_error():
    with pytest.raises(CommandError, match="no space named 'nope'"):
        call_command("activate_space", "nope")


def test_an_open_clip_tag_is_registered_as_an_inactive_space():
    call_command(
        "register_space", "clip", "--architecture", "ViT-B-32",
        "--pretrained", "laion2b_s34b_b79k", "--dimension", "512",
    )  # fmt: skip
    space = EmbeddingSpace.objects.get(name="clip")
    assert (space.architecture, space.pretrained, space.dimension) == (
        "ViT-B-32", "laion2b_s34b_b79k", 512,
    )  # fmt: skip
    assert not space.is_active


def test_registering_a_model_that_cannot_load_says_why(tmp_path):
    with pytest.raises(CommandError, match="cannot load"):
        call_command("register_space", "broken", "--architecture", "ViT-B-32",
                     "--pretrained", str(tmp_path / "missing.pt"))  # fmt: skip
    assert not EmbeddingSpace.objects.filter(name="broken").exists()
