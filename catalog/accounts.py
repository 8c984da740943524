"""Account pages: sign up, log in (throttled), account page with API tokens, become a seller.

Log in, log out and password change are Django's own views with our templates."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from catalog import services


def _login_rate() -> tuple[int, int]:
    """(requests, seconds) from THROTTLE_LOGIN, parsed as DRF parses it."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"]
    return SimpleRateThrottle.parse_rate(None, rate)


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


class ThrottledLoginView(LoginView):
    """Django's login page, with a cache counter per IP and username: at most THROTTLE_LOGIN
    attempts per window, after which the form says to wait (HTTP 429)."""

    template_name = "registration/login.html"

    def post(self, request, *args, **kwargs):
        allowed, seconds = _login_rate()
        username = (request.POST.get("username") or "").strip().lower()
        key = f"login-attempts:{_client_ip(request)}:{username}"
        cache.add(key, 0, timeout=seconds)
        try:
            attempts = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=seconds)
            attempts = 1
        if attempts > allowed:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, f"Too many log-in attempts. Try again in {seconds} seconds.")
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)


def signup(request):
    if request.user.is_authenticated:
        return redirect("account")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}! You are logged in.")
        return redirect(request.GET.get("next") or settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})


@login_required
def account(request):
    token = Token.objects.filter(user=request.user).first()
    new_key = request.session.pop("new_token_key", None)
    return render(
        request,
        "accounts/account.html",
        {"token": token, "new_key": new_key, "seller": getattr(request.user, "seller", None)},
    )


@login_required
@require_POST
def token_create(request):
    token = services.token_create(user=request.user)
    request.session["new_token_key"] = token.key  # shown once, on the next page
    messages.success(request, "A new API token was created. Copy it now; it is shown only once.")
    return redirect("account")


@login_required
@require_POST
def token_revoke(request):
    if services.token_revoke(user=request.user):
        messages.success(request, "Your API token was revoked.")
    return redirect("account")


@login_required
def seller_become(request):
    if hasattr(request.user, "seller"):
        return redirect("seller-dashboard")
    if request.method == "POST":
        services.seller_become(user=request.user)
        messages.success(request, "You are now a seller. Add your first product.")
        return redirect("seller-dashboard")
    return render(request, "accounts/seller_become.html")
