from django.urls import path

from visualsearch import views

urlpatterns = [
    path("", views.home, name="home"),
]
