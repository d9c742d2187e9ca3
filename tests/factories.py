"""Plain factories; apps add theirs in tests/<app>/factories.py."""

from datetime import timedelta

import factory
from django.utils import timezone

from portal.models import Programme, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.kr")
    full_name = factory.Sequence(lambda n: f"사용자{n}")
    role = "applicant"
    password = factory.PostGenerationMethodCall("set_password", "Correct-Horse-42!")

    @factory.post_generation
    def save_after_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            from allauth.account.models import EmailAddress

            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme

    name = factory.Sequence(lambda n: f"독자 AI 파운데이션 모델 프로젝트 {n}")
    name_en = factory.Sequence(lambda n: f"Independent AI Foundation Model Project {n}")
    year = 2025
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    budget_envelope = 22_000_000_000

    class Params:
        closed = factory.Trait(closes_at=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1)))
