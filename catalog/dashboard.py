"""The seller dashboard (/seller/): own products, image indexing status, duplicate warnings,
create/edit with several photos, publish/hide/delete, and background CSV imports.

Views parse a form and call one catalog service; the forms only check input shapes."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from catalog import selectors, services
from catalog.currencies import ISO_4217
from catalog.images import ImageRejected
from catalog.models import Category, ImageKind, ImportJob, Product, ProductStatus


# ----------------------------------------------------------------------------- forms
class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several photos; each goes through catalog.services.image_validate."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not files and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
        checked, problems = [], []
        for upload in files:
            try:
                checked.append(services.image_validate(upload.read()))
            except ImageRejected as error:
                problems.append(f"{upload.name}: {error}")
        if problems:
            raise ValidationError(problems)
        return checked


class ProductForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    brand = forms.CharField(max_length=120, required=False)
    category = forms.ModelChoiceField(Category.objects.all(), required=False)
    price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = forms.CharField(max_length=3, initial="EUR")

    def clean_currency(self):
        try:
            return services.currency_parse(self.cleaned_data["currency"])
        except ValueError:
            raise ValidationError(
                f"Use a three-letter ISO 4217 code such as EUR or USD ({len(ISO_4217)} are known)."
            ) from None

    def product_data(self, *, status: str) -> services.ProductData:
        data = self.cleaned_data
        return services.ProductData(
            title=data["title"].strip(), price=data["price"], currency=data["currency"],
            description=data["description"].strip(), brand=data["brand"].strip(),
            category=data["category"], status=status,
        )  # fmt: skip


class ProductCreateForm(ProductForm):
    images = MultipleImageField(
        label="Photos", required=False, help_text="Several at once; drag them here or browse."
    )


class ImagesAddForm(forms.Form):
    images = MultipleImageField(label="Add photos", help_text="Drag them here or browse.")


class ImportForm(forms.Form):
    csv_file = forms.FileField(
        label="Catalog CSV",
        help_text="Columns: external_id, title, price, and optionally description, brand, "
        "category (A > B > C), currency, images (';'-separated file names in the ZIP).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    images_zip = forms.FileField(
        label="Photos (ZIP, optional)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )


def _form_errors_from(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError next to the field it names."""
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


# ----------------------------------------------------------------------------- helpers
def _seller(request):
    seller = getattr(request.user, "seller", None)
    if seller is None:
        return None
    return seller


def seller_required(view):
    """Logged-in sellers only; others are sent to become one."""

    @login_required
    def wrapped(request, *args, **kwargs):
        seller = _seller(request)
        if seller is None:
            messages.info(request, "Become a seller to use the dashboard.")
            return redirect("seller-become")
        return view(request, seller, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _own_product(seller, pk: int) -> Product:
    product = (
        Product.objects.filter(pk=pk, seller=seller).exclude(status=ProductStatus.DELETED).first()
    )
    if product is None:
        raise Http404("No such product of yours")
    return product


# ----------------------------------------------------------------------------- pages
@seller_required
def dashboard(request, seller):
    page = Paginator(selectors.seller_products(seller=seller), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "seller/dashboard.html",
        {
            "seller": seller, "products": list(page.object_list), "page": page,
            "import_form": ImportForm(),
            "jobs": selectors.seller_import_jobs(seller=seller, limit=5),
        },
    )  # fmt: skip


@seller_required
def product_new(request, seller):
    form = ProductCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        publish = "publish" in request.POST
        status = ProductStatus.ACTIVE if publish else ProductStatus.DRAFT
        try:
            product = services.product_create(
                seller=seller, data=form.product_data(status=status),
                images=form.cleaned_data["images"],
            )  # fmt: skip
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(
                request, f"“{product.title}” was {'published' if publish else 'saved as a draft'}."
            )
            return redirect("seller-product-edit", pk=product.pk)
    return render(request, "seller/product_form.html", {"form": form, "product": None})


@seller_required
def product_edit(request, seller, pk: int):
    product = _own_product(seller, pk)
    form = ProductForm(
        request.POST or None, initial=selectors.product_form_initial(product=product)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(product=product, data=form.product_data(status=product.status))
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("seller-product-edit", pk=product.pk)
    return render(
        request,
        "seller/product_form.html",
        {
            "form": form, "product": product,
            "images": selectors.product_images(product=product),
            "images_form": ImagesAddForm(), "kinds": ImageKind.choices,
        },
    )  # fmt: skip


@seller_required
@require_POST
def product_status(request, seller, pk: int):
    product = _own_product(seller, pk)
    wanted = {"publish": ProductStatus.ACTIVE, "hide": ProductStatus.HIDDEN,
              "draft": ProductStatus.DRAFT}.get(request.POST.get("action", ""))  # fmt: skip
    if wanted is None:
        messages.error(request, "Unknown action.")
    else:
        try:
            services.product_set_status(product=product, status=wanted)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"“{product.title}” is now {wanted.label.lower()}.")
    return redirect(request.POST.get("next") or "seller-dashboard")


@seller_required
@require_POST
def product_delete(request, seller, pk: int):
    product = _own_product(seller, pk)
    title = product.title
    services.product_delete(product=product)
    messages.success(request, f"“{title}” was deleted.")
    return redirect("seller-dashboard")


@seller_required
@require_POST
def images_add(request, seller, pk: int):
    product = _own_product(seller, pk)
    form = ImagesAddForm(request.POST, request.FILES)
    if form.is_valid():
        added = services.product_images_add(product=product, images=form.cleaned_data["images"])
        messages.success(request, f"{len(added)} photo(s) added.")
    else:
        messages.error(request, " ".join(form.errors.get("images", ["No photos."])))
    return redirect("seller-product-edit", pk=product.pk)


@seller_required
@require_POST
def images_update(request, seller, pk: int):
    """The gallery form: one position, kind and 'remove' box per photo."""
    product = _own_product(seller, pk)
    images = list(product.images.all())
    remove = {img.pk for img in images if request.POST.get(f"remove-{img.pk}")}
    keep = [img for img in images if img.pk not in remove]  # before a delete clears the pks
    try:
        for img in images:
            kind = request.POST.get(f"kind-{img.pk}")
            if img.pk not in remove and kind and kind != img.kind:
                services.product_image_set_kind(image=img, kind=kind)
        for img in images:
            if img.pk in remove:
                services.product_image_remove(image=img)

        def position(img):
            try:
                return (float(request.POST.get(f"position-{img.pk}", img.position)), img.position)
            except ValueError:
                return (img.position, img.position)

        order = [img.pk for img in sorted(keep, key=position)]
        if order:
            services.product_images_reorder(product=product, image_ids=order)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Photos saved.")
    return redirect("seller-product-edit", pk=product.pk)


# ----------------------------------------------------------------------------- imports
@seller_required
@require_POST
def import_start(request, seller):
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = services.import_job_create(
                seller=seller, csv_file=form.cleaned_data["csv_file"],
                images_zip=form.cleaned_data.get("images_zip"),
            )  # fmt: skip
        except ValidationError as error:
            _form_errors_from(form, error)
        else:
            messages.success(request, f"Import #{job.pk} started.")
            return redirect("seller-dashboard")
    page = Paginator(selectors.seller_products(seller=seller), 20).get_page(1)
    return render(
        request,
        "seller/dashboard.html",
        {
            "seller": seller, "page": page, "import_form": form,
            "products": list(page),
            "jobs": selectors.seller_import_jobs(seller=seller, limit=5),
        },
        status=400,
    )  # fmt: skip


def _own_job(seller, pk: int) -> ImportJob:
    return get_object_or_404(ImportJob, pk=pk, seller=seller)


@seller_required
def import_status(request, seller, pk: int):
    """Polled by seller.js for the progress bar."""
    return JsonResponse(selectors.import_job_status(job=_own_job(seller, pk)))


@seller_required
def import_errors(request, seller, pk: int):
    job = _own_job(seller, pk)
    if not job.error_report:
        raise Http404("This import has no errors")
    return FileResponse(
        job.error_report.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.csv"
    )
