"""Model factories: build valid records with the fewest words in a test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from extensions import db
from models import (
    Category,
    ChangeEvent,
    ChangeEventLine,
    ChangeEventStatus,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    Commitment,
    CommitmentStatus,
    CommitmentType,
    CostCode,
    ErpPermission,
    Project,
    ProjectMembership,
    ProjectRole,
    SovLine,
    User,
    Vendor,
)
from models.types import utcnow

_counter = itertools.count(1)


@dataclass
class Cast:
    """A project with one person per role (the permission matrix's columns)."""

    project: Project
    read_only: User
    standard: User
    project_admin: User
    company_admin: User
    outsider: User

    def by_role(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)


class Factory:
    def __init__(self, password: str) -> None:
        self.password = password

    def user(self, *, email: str | None = None, name: str | None = None,
             is_company_admin: bool = False, erp: ErpPermission = ErpPermission.NONE,
             can_push: bool = False, active: bool = True) -> User:
        n = next(_counter)
        user = User(email=email or f"user{n}@example.com", name=name or f"User {n}",
                    is_company_admin=is_company_admin, erp_permission=erp,
                    can_push_to_accounting=can_push, active=active)
        user.set_password(self.password)
        db.session.add(user)
        db.session.commit()
        return user

    def project(self, *, number: str | None = None, name: str = "Test project") -> Project:
        project = Project(number=number or f"P-{next(_counter):04d}", name=name)
        db.session.add(project)
        db.session.commit()
        return project

    def member(self, project: Project, user: User, role: ProjectRole) -> ProjectMembership:
        membership = ProjectMembership(project=project, user=user, role=role)
        db.session.add(membership)
        db.session.commit()
        return membership

    def vendor(self, name: str | None = None) -> Vendor:
        vendor = Vendor(name=name or f"Vendor {next(_counter)}")
        db.session.add(vendor)
        db.session.commit()
        return vendor

    def cost_code(self, code: str | None = None, description: str = "Work") -> CostCode:
        cost_code = CostCode(code=code or f"{next(_counter):02d}-100", description=description)
        db.session.add(cost_code)
        db.session.commit()
        return cost_code

    def category(self, name: str) -> Category:
        return db.session.scalar(select(Category).where(Category.name == name))

    def commitment(self, project: Project, *, vendor: Vendor | None = None,
                   number: str | None = None, title: str = "Concrete", status: str = "approved",
                   type_: str = "subcontract", sov: tuple[str, ...] = ()) -> Commitment:
        record = Commitment(project=project, vendor=vendor or self.vendor(),
                            number=number or f"SC-{next(_counter)}", title=title,
                            status=CommitmentStatus(status), type=CommitmentType(type_))
        db.session.add(record)
        db.session.flush()
        for amount in sov:
            self.sov_line(record, amount=amount)
        db.session.commit()
        return record

    def sov_line(self, commitment: Commitment, *, amount: str = "1000.00",
                 description: str | None = None, cost_code: CostCode | None = None,
                 category: str = "Subcontract") -> SovLine:
        number = len(commitment.sov_lines) + 1
        line = SovLine(commitment=commitment, line_number=number,
                       description=description or f"Line {number}",
                       cost_code=cost_code or self.cost_code(), category=self.category(category),
                       amount=Decimal(amount))
        db.session.add(line)
        db.session.commit()
        return line

    def change_order(self, commitment: Commitment, *, status: str = "draft",
                     lines: tuple[tuple[SovLine, str], ...] = (), reviewer: User | None = None,
                     private: bool = False, creator: User | None = None,
                     title: str = "Extra work") -> ChangeOrder:
        commitment.last_cco_number += 1
        cco = ChangeOrder(commitment=commitment, number=f"{commitment.last_cco_number:03d}",
                          title=title, status=ChangeOrderStatus(status),
                          designated_reviewer=reviewer, private=private, created_by=creator)
        db.session.add(cco)
        for sov_line, amount in lines:
            db.session.add(ChangeOrderLine(change_order=cco, sov_line=sov_line,
                                           description="Change", amount=Decimal(amount)))
        if cco.status == ChangeOrderStatus.APPROVED:  # approved as it stands, as review() keeps
            from workflow.approvals import record_approval

            cco.reviewed_by, cco.reviewed_at = reviewer, utcnow()
            record_approval(reviewer, cco)
        db.session.commit()
        return cco

    def approve_again(self, cco: ChangeOrder, reviewer: User | None = None) -> ChangeOrder:
        """The reviewer approves a CCO once more as its lines are now (a test that changed the
        lines of an approved CCO on purpose, as the reviewer would after reading them)."""
        from workflow.approvals import record_approval

        db.session.refresh(cco)
        if cco.approval is not None:
            cco.approval.withdrawn_at = utcnow()
        cco.status = ChangeOrderStatus.APPROVED
        record_approval(reviewer or cco.reviewed_by or cco.designated_reviewer, cco)
        db.session.commit()
        db.session.expire(cco)
        return cco

    def cast(self) -> Cast:
        project = self.project(name="Matrix project")
        people = {}
        for role in ProjectRole:
            user = self.user(name=f"{role.value} member")
            self.member(project, user, role)
            people[role] = user
        admin = self.user(name="Company admin", is_company_admin=True, erp=ErpPermission.ADMIN,
                          can_push=True)
        outsider = self.user(name="Outsider")
        return Cast(project=project, read_only=people[ProjectRole.READ_ONLY],
                    standard=people[ProjectRole.STANDARD],
                    project_admin=people[ProjectRole.ADMIN], company_admin=admin,
                    outsider=outsider)

    def change_event(self, project: Project, *, title: str = "Unforeseen rock",
                     status: str = "open", change_reason: str = "Existing Condition"
                     ) -> ChangeEvent:
        project.last_change_event_number += 1
        ce = ChangeEvent(project=project, number=f"{project.last_change_event_number:03d}",
                         title=title, status=ChangeEventStatus(status),
                         change_reason=change_reason)
        db.session.add(ce)
        db.session.commit()
        return ce

    def change_event_line(self, ce: ChangeEvent, *, cost_code: CostCode | None = None,
                          category: str = "Subcontract", vendor: Vendor | None = None,
                          commitment: Commitment | None = None, cost_rom: str = "100.00",
                          latest_cost: str | None = None,
                          description: str | None = None) -> ChangeEventLine:
        number = len(ce.lines) + 1
        line = ChangeEventLine(change_event=ce, line_number=number,
                               description=description or f"Item {number}",
                               cost_code=cost_code or self.cost_code(),
                               category=self.category(category),
                               vendor=vendor or (commitment.vendor if commitment else None),
                               commitment=commitment, cost_rom=Decimal(cost_rom),
                               latest_cost=Decimal(latest_cost) if latest_cost else None)
        db.session.add(line)
        db.session.commit()
        return line
