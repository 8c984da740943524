from django.urls import path

from dedupe import views

urlpatterns = [
    path("moderation/duplicates/", views.queue, name="moderation-queue"),
    path("moderation/duplicates/dismiss/", views.bulk_dismiss, name="moderation-bulk-dismiss"),
    path("moderation/duplicates/<int:pk>/", views.pair, name="moderation-pair"),
    path("moderation/duplicates/<int:pk>/decide/", views.decide, name="moderation-decide"),
    path("moderation/duplicates/<int:pk>/undo/", views.undo, name="moderation-undo"),
]
