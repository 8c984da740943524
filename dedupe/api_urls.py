from django.urls import path

from dedupe import api

urlpatterns = [
    path("duplicates/", api.CandidateListApi.as_view(), name="api-duplicates"),
    path("duplicates/<int:pk>/", api.CandidateDetailApi.as_view(), name="api-duplicate"),
    path(
        "duplicates/<int:pk>/decision/",
        api.CandidateDecisionApi.as_view(),
        name="api-duplicate-decision",
    ),
    path("duplicates/<int:pk>/undo/", api.CandidateUndoApi.as_view(), name="api-duplicate-undo"),
]
