"""``manage.py reindex`` backfills a (possibly inactive) space and resumes where it stopped."""

from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from tests.factories import ProductImageFactory
from tests.support import TINY
from visualsearch.models import EmbeddingSpace, ImageEmbedding, TitleEmbedding
from visualsearch.spaces import space_activate, space_register
from visualsearch.tasks import images_embed_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_space(tiny_checkpoint):
    _, _, checkpoint = tiny_checkpoint
    return space_register(name="green", architecture=TINY, pretrained=str(checkpoint), dimension=32)


def reindex(*args) -> str:
    out = StringIO()
    call_command("reindex", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_reindex_fills_a_new_space_and_a_rerun_does_only_what_is_missing(tiny_space):
    images = [ProductImageFactory() for _ in range(5)]
    first = reindex("--space", "green", "--limit", "3", "--batch", "2")
    assert "embedded 3 images and 0 titles" in first
    assert "still missing 2 images and 5 titles" in first
    done_first = dict(ImageEmbedding.objects.filter(space=tiny_space).values_list("image_id", "pk"))
    assert len(done_first) == 3

    second = reindex("--space", "green", "--batch", "2")
    assert "embedded 2 images and 5 titles" in second
    assert "already done 3 images" in second
    assert "still missing 0 images and 0 titles" in second
    rows = dict(ImageEmbedding.objects.filter(space=tiny_space).values_list("image_id", "pk"))
    assert set(rows) == {image.pk for image in images}
    # the first run's vectors were kept, not written again
    assert {i: rows[i] for i in done_first} == done_first
    assert TitleEmbedding.objects.filter(space=tiny_space).count() == 5
    tiny_space.refresh_from_db()
    assert tiny_space.status == EmbeddingSpace.Status.READY

    third = reindex("--space", "green")
    assert "embedded 0 images and 0 titles" in third


def test_reindexing_an_inactive_space_leaves_the_active_one_alone(tiny_space):
    blue = space_register(name="blue", architecture="x", pretrained="y", dimension=8)
    space_activate(name="blue")
    ProductImageFactory()
    reindex("--space", "green")
    assert ImageEmbedding.objects.filter(space=tiny_space).count() == 1
    assert ImageEmbedding.objects.filter(space=blue).count() == 0
    blue.refresh_from_db()
    assert blue.is_active


def test_an_undecodable_image_is_reported_as_failed_with_its_reason(tiny_space):
    good = ProductImageFactory()
    bad = ProductImageFactory(file=ContentFile(b"not an image", name="bad.jpg"))
    out = reindex("--space", "green")
    assert "failed 1" in out
    assert "failed (1): cannot decode" in out
    assert ImageEmbedding.objects.filter(space=tiny_space, image=good).exists()
    assert not ImageEmbedding.objects.filter(space=tiny_space, image=bad).exists()
    # a permanent failure is not retried by the next run
    assert "embedded 0 images" in reindex("--space", "green")


def test_an_unknown_space_is_a_command_error_naming_the_known_ones(tiny_space):
    with pytest.raises(CommandError, match=r"no embedding space named 'nope'; known spaces: green"):
        reindex("--space", "nope")


def test_enqueue_sends_the_batches_to_the_workers_instead(tiny_space):

    broker = images_embed_task.broker
    broker.flush_all()
    ProductImageFactory.create_batch(3)
    out = reindex("--space", "green", "--enqueue", "--batch", "2")
    assert "enqueued 4 batches" in out  # 2 image batches + 2 title batches
    assert ImageEmbedding.objects.filter(space=tiny_space).count() == 0
    broker.flush_all()
