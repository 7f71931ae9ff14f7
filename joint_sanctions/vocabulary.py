"""Stable ids of docs/vocabulary.md with their Chinese names (the names are data, the ids are contract)."""

from __future__ import annotations

__all__ = ["BAN_LIST_TYPES", "CASE_STATUSES", "CLUE_CHANNELS", "CLUE_STATUSES", "DECISIONS", "DISPOSAL_RESULTS", "EFFECTS", "ID_KINDS",
           "INCENTIVE_LIST_TYPES", "KINDS", "LIST_TYPES", "MATTER_TYPES", "ORGANIZERS", "PUNISHMENT_LIST_TYPES",
           "RECORD_STATUSES", "RELATED_PARTY_ROLES", "SUBJECT_TYPES"]

SUBJECT_TYPES: dict[str, str] = {
    "legal_person": "法人",
    "unincorporated_org": "非法人组织",
    "individual_business": "个体工商户",
    "natural_person": "自然人",
    "government_body": "机关/事业单位",
    "region": "区县(市)",
}

ID_KINDS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "resident_id": "居民身份证号码",
    "region_code": "行政区划代码",
}

PUNISHMENT_LIST_TYPES: dict[str, str] = {
    "court_defaulter": "失信被执行人",
    "major_tax_violator": "重大税收违法失信主体",
    "procurement_violator": "政府采购严重违法失信行为记录名单",
    "market_serious_violator": "市场监督管理严重违法失信名单",
    "wage_arrears": "拖欠农民工工资失信联合惩戒对象名单",
    "safety_serious_violator": "安全生产严重失信主体名单",
    "trading_serious_violator": "公共资源交易领域严重失信主体",
    "government_dishonesty": "政务失信记录",
}

INCENTIVE_LIST_TYPES: dict[str, str] = {
    "tax_credit_a": "纳税信用A级纳税人",
    "customs_advanced": "海关高级认证企业",
    "honesty_model": "诚信典型",
}

LIST_TYPES: dict[str, str] = {**PUNISHMENT_LIST_TYPES, **INCENTIVE_LIST_TYPES}

#: The list types whose records may carry the ban of their own decision (``ban_matter_types``,
#: ``ban_item_codes``, ``ban_until``), and so the only ones a ``requires_ban`` measure may name: the
#: punishment lists an administrative body keeps on its penalty decisions, which are what bar a
#: licence, bidding or procurement for a period (谁处罚、谁决定). A court's list of judgment defaulters
#: bars through the list itself (法释〔2013〕17号 第8条), and a government-dishonesty record is a duty to
#: rectify (``rectify_by``), not a ban; red lists bar nothing.
BAN_LIST_TYPES: dict[str, str] = {key: name for key, name in PUNISHMENT_LIST_TYPES.items()
                                  if key not in ("court_defaulter", "government_dishonesty")}

MATTER_TYPES: dict[str, str] = {
    "central_budget_funds": "中央预算内资金申报",
    "special_bond": "地方政府专项债券申请",
    "financing_recommendation": "融资项目推荐",
    "government_procurement": "政府采购",
    "bidding": "招标投标",
    "fiscal_funds": "财政资金/奖补资金申报",
    "support_policy": "扶持政策申请",
    "honors": "评优评先",
    "pilot_demonstration": "试点示范",
    "qualification_review": "资质审核",
    "administrative_licensing": "行政审批",
    "civil_servant_hiring": "公务员录用",
    "deputy_eligibility": "人大代表/政协委员资格",
}

#: Who organises the matter (``matter.organizer``; default ``other``): the seed scopes some measures to
#: one system's awards and pilots (取消发展改革系统的评优评先和试点示范资格).
ORGANIZERS: dict[str, str] = {
    "development_reform": "发展改革系统",
    "social_credit": "社会信用体系建设（信用办）",
    "other": "其他",
}

EFFECTS: dict[str, str] = {
    "prohibit": "不得/取消资格",
    "restrict": "限制",
    "strict_review": "从严审核",
    "reference": "作为参考",
    "incentive": "激励",
}

KINDS: dict[str, str] = {"punishment": "惩戒", "incentive": "激励"}

RELATED_PARTY_ROLES: dict[str, str] = {
    "legal_representative": "法定代表人",
    "principal": "主要负责人",
    "shareholder": "股东",
}

RECORD_STATUSES: dict[str, str] = {"active": "有效", "repaired": "已修复", "removed": "已移出"}

DECISIONS: dict[str, str] = {
    "prohibited": "禁止",
    "restricted": "限制",
    "review": "审慎核查",
    "clear": "无限制",
}

CASE_STATUSES: dict[str, str] = {
    "responded": "已响应",
    "disposed": "已处置待反馈",
    "fed_back": "已反馈",
    "rejected": "被拒收",
    "withdrawn": "已撤回",
}

DISPOSAL_RESULTS: dict[str, str] = {"applied": "已实施", "not_applied": "未实施", "partially_applied": "部分实施"}

#: Channels through which complaints of government bodies breaking contracts arrive (违约失信投诉渠道,
#: docs/government-integrity.md): the 信用郑州 column and the platforms it links to.
CLUE_CHANNELS: dict[str, str] = {
    "credit_website": "信用郑州专栏",
    "hotline_12345": "12345政务服务热线",
    "internet_supervision": "互联网+督查",
    "arrears_platform": "违约拖欠中小企业款项登记平台",
    "business_env": "营商环境投诉举报平台",
    "petition": "网上信访投诉平台",
    "other": "其他",
}

#: Where a complaint clue stands: received, transferred to the body's superior or competent department
#: (即发现即转交), then verified (核实认定) as confirmed or unfounded.
CLUE_STATUSES: dict[str, str] = {
    "received": "已受理",
    "transferred": "已转交",
    "confirmed": "核实属实",
    "unfounded": "核实不实",
}
