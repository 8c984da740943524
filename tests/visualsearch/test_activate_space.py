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
