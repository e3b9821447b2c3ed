"""The constraints that keep the hot paths safe hold at the database, not just in Python."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import Annotation, Assignment, Guideline, Item, Membership, Project


@pytest.fixture
def project(db):
    return Project.objects.create(name="p", responses_per_item=2)


def make_item(project, content_hash="h1", **extra):
    return Item.objects.create(project=project, prompt="Say hi", content_hash=content_hash, **extra)


def assert_rejected(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_item_content_hash_unique_per_project_only(project):
    make_item(project, "same")
    assert_rejected(lambda: make_item(project, "same"))
    other = Project.objects.create(name="q")
    assert make_item(other, "same").pk


def test_one_assignment_per_item_and_annotator(project, make_user):
    user = make_user("ann")
    item = make_item(project)
    now = timezone.now()
    fields = dict(project=project, item=item, annotator=user, display_order=[],
                  leased_at=now, lease_expires_at=now)
    Assignment.objects.create(**fields)
    assert_rejected(lambda: Assignment.objects.create(**fields))


def test_project_k_must_be_between_2_and_9(db):
    assert_rejected(lambda: Project.objects.create(name="k1", responses_per_item=1))
    assert_rejected(lambda: Project.objects.create(name="k10", responses_per_item=10))
    assert Project.objects.create(name="k9", responses_per_item=9).pk


def test_gold_rate_between_0_and_1(db):
    assert_rejected(lambda: Project.objects.create(name="g", gold_rate=1.5))


def test_gold_item_needs_a_ranking(project):
    assert_rejected(lambda: make_item(project, "g", is_gold=True))
    assert make_item(project, "g2", is_gold=True, gold_ranking=[[1], [2]]).pk


def test_one_membership_per_user_and_project(project, make_user):
    user = make_user("u")
    Membership.objects.create(project=project, user=user)
    assert_rejected(lambda: Membership.objects.create(project=project, user=user, role="manager"))


def test_guideline_versions_unique_per_project(project):
    Guideline.objects.create(project=project, version=1, text="a")
    assert_rejected(lambda: Guideline.objects.create(project=project, version=1, text="b"))


def test_annotation_strength_range_and_idempotency_key_unique(project, make_user):
    user = make_user("ann")
    item = make_item(project)
    base = dict(project=project, item=item, ranking=[[1], [2]])
    assert_rejected(lambda: Annotation.objects.create(annotator=user, strength=4, **base))
    Annotation.objects.create(annotator=user, idempotency_key="k", **base)
    other_item = make_item(project, "h2")
    assert_rejected(lambda: Annotation.objects.create(
        annotator=user, idempotency_key="k", **{**base, "item": other_item}))


def test_one_human_annotation_per_item_and_annotator_but_many_imported(project, make_user):
    user = make_user("ann")
    item = make_item(project)
    base = dict(project=project, item=item, ranking=[[1], [2]])
    Annotation.objects.create(annotator=user, **base)
    assert_rejected(lambda: Annotation.objects.create(annotator=user, **base))
    Annotation.objects.create(source="import", **base)
    Annotation.objects.create(source="import", **base)
    assert item.annotations.filter(source="import").count() == 2
