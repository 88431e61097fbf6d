import factory
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point

from crews.models import Crew, Responsibility
from reports.models import Category


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-only")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cat{n}")
    name_de = factory.LazyAttribute(lambda o: f"Kategorie {o.code}")
    name_en = factory.LazyAttribute(lambda o: f"Category {o.code}")
    deadline_unit = Category.DeadlineUnit.WORKING_DAYS
    deadline_amount = 3


class CrewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Crew
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"crew{n}")
    name = factory.LazyAttribute(lambda o: f"Crew {o.code}")
    depot = Point(0.5, 0.5, srid=4326)


class ResponsibilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Responsibility

    crew = factory.SubFactory(CrewFactory)
