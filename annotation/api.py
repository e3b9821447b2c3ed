"""REST views for projects, members, guidelines and items. Thin: parse, call, shape."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .models import Item, Membership, Project
from .permissions import Role, can_create_projects, can_create_users, project_for
from .quality import services as quality_services
from .quality.serializers import MemberDetailSerializer, MemberUpdateRequest
from .serializers import (
    GuidelineAcknowledgeSerializer,
    GuidelineSerializer,
    ItemSerializer,
    MembershipSerializer,
    ProjectSerializer,
    UserCreateSerializer,
    UserSerializer,
)


class UserCreateApi(APIView):
    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request):
        if not can_create_users(request.user):
            raise PermissionDenied("Only staff and project managers can create users.")
        body = UserCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.create_user(actor=request.user, **body.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class ProjectListCreateApi(generics.ListCreateAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return selectors.projects_for(user=self.request.user)

    def perform_create(self, serializer):
        if not can_create_projects(self.request.user):
            raise PermissionDenied("You may not create projects.")
        serializer.instance = services.create_project(
            actor=self.request.user, **serializer.validated_data
        )


class ProjectDetailApi(generics.RetrieveUpdateAPIView):
    serializer_class = ProjectSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        at_least = Role.ANNOTATOR if self.request.method in ("GET", "HEAD") else Role.MANAGER
        return project_for(user=self.request.user, project_id=self.kwargs["pk"], at_least=at_least)

    def perform_update(self, serializer):
        serializer.instance = services.update_project(
            actor=self.request.user, project=serializer.instance, **serializer.validated_data
        )


LAST_MANAGER = OpenApiResponse(description="The project's only manager would lose the role.")


@extend_schema_view(post=extend_schema(responses={
    201: MembershipSerializer,
    200: OpenApiResponse(MembershipSerializer,
                         description="Already a member: the role and status were updated."),
    409: LAST_MANAGER,
}))
class MemberListCreateApi(generics.ListCreateAPIView):
    serializer_class = MembershipSerializer
    pagination_class = None

    def get_project(self, at_least):
        return project_for(user=self.request.user, project_id=self.kwargs["pk"], at_least=at_least)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.members_of(project=self.get_project(Role.REVIEWER))

    def create(self, request, *args, **kwargs):
        project = self.get_project(Role.MANAGER)
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership, created = services.set_membership(
            actor=request.user, project=project, **body.validated_data
        )
        return Response(
            MembershipSerializer(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MemberDetailApi(APIView):
    @extend_schema(request=MemberUpdateRequest, responses={200: MemberDetailSerializer,
                                                           409: LAST_MANAGER},
                   description="Pause, resume (with a reason, kept in the audit log) or "
                   "change the role of a member. Managers.")
    def patch(self, request, pk, member_id):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        membership = quality_services.membership_of(project=project, member_id=member_id)
        body = MemberUpdateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "role" in data and data["role"] != membership.role:
            membership, _ = services.set_membership(
                actor=request.user, project=project, user=membership.user, role=data["role"],
                status=membership.status)
        if "status" in data:
            membership = quality_services.set_member_status(
                actor=request.user, membership=membership, status=data["status"],
                reason=data["reason"])
        return Response(MemberDetailSerializer(membership).data)

    @extend_schema(responses={204: None, 409: LAST_MANAGER})
    def delete(self, request, pk, member_id):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        membership = get_object_or_404(Membership, project=project, pk=member_id)
        services.remove_membership(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GuidelineApi(APIView):
    @extend_schema(responses={200: GuidelineSerializer})
    def get(self, request, pk):
        project = project_for(user=request.user, project_id=pk)
        guideline = selectors.current_guideline(project=project)
        if guideline is None:
            return Response({"detail": "This project has no guideline.", "errors": []},
                            status=status.HTTP_404_NOT_FOUND)
        return Response(GuidelineSerializer(guideline, context={"request": request}).data)

    @extend_schema(
        request=inline_serializer("GuidelineCreate", {"text": serializers.CharField()}),
        responses={201: inline_serializer("GuidelineVersion", {"version": serializers.IntegerField()})},
    )
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk, at_least=Role.MANAGER)
        body = GuidelineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        guideline = services.publish_guideline(
            actor=request.user, project=project, text=body.validated_data["text"]
        )
        return Response({"version": guideline.version}, status=status.HTTP_201_CREATED)


class GuidelineAcknowledgeApi(APIView):
    @extend_schema(
        request=GuidelineAcknowledgeSerializer,
        responses={
            200: inline_serializer("Acknowledged", {"version": serializers.IntegerField()}),
            409: OpenApiResponse(description="That version is no longer the current one."),
        },
    )
    def post(self, request, pk):
        project = project_for(user=request.user, project_id=pk)
        body = GuidelineAcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ack = services.acknowledge_current_guideline(
            user=request.user, project=project, version=body.validated_data.get("version")
        )
        return Response({"version": ack.guideline.version})


class ItemFilter(django_filters.FilterSet):
    is_gold = django_filters.BooleanFilter()
    status = django_filters.ChoiceFilter(
        choices=[("pending", "pending"), ("in_progress", "in_progress"), ("done", "done")]
    )
    min_annotations = django_filters.NumberFilter(field_name="annotations_done", lookup_expr="gte")


class ItemListApi(generics.ListAPIView):
    serializer_class = ItemSerializer
    filterset_class = ItemFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Item.objects.none()
        project = project_for(user=self.request.user, project_id=self.kwargs["pk"],
                              at_least=Role.REVIEWER)
        return selectors.items_of(project=project)
