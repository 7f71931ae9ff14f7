"""Adapters that embed credit checks in host systems, one module per host system.

* :mod:`.trading` — 公共资源交易: every bidder or supplier of a tender or procurement;
* :mod:`.government_services` — 政务服务: service item (事项编码) → what the handling window may do;
* :mod:`.funds` — 中央预算内资金, 专项债券, 融资项目推荐, 财政/扶持资金: applicant and participating units;
* :mod:`.reviews` — 评优评先, 资质审核, 公务员录用: batch checks of organisations or natural persons.

Adapters import :mod:`joint_sanctions`; the library never imports them. The wheel ships this folder as
``joint_sanctions.adapters``, so import them as ``from joint_sanctions.adapters import trading``. Their
errors (drawn in :mod:`._common`) derive from :class:`joint_sanctions.JointSanctionsError`.
"""

from ._common import (
    VERDICTS,
    AdapterError,
    AdapterInputError,
    Reason,
    ServiceItemsError,
    UnknownServiceItemError,
    Verdict,
)

__all__ = [
    "VERDICTS",
    "AdapterError",
    "AdapterInputError",
    "Reason",
    "ServiceItemsError",
    "UnknownServiceItemError",
    "Verdict",
]
