{{/*
The controller's permissions, one ClusterRole per fault family: the minimum each family needs,
exactly as docs/kubernetes.md#rbac lists it (the chart test checks they stay equal). Keys are
the switches under rbac.families; each value is the family's role-name suffix and its rules.
*/}}
{{- define "faultline.rbacFamilies" -}}
select:
  suffix: select
  rules:
    - { apiGroups: [''], resources: [pods], verbs: [get, list, watch] }
    - { apiGroups: [''], resources: [nodes], verbs: [get, list] }
    - { apiGroups: [''], resources: [namespaces], verbs: [get] }
    - { apiGroups: [apps], resources: [deployments, statefulsets], verbs: [get] }
podKill:
  suffix: pod-kill
  rules:
    - { apiGroups: [''], resources: [pods], verbs: [delete] }
podEvict:
  suffix: pod-evict
  rules:
    - { apiGroups: [''], resources: [pods/eviction], verbs: [create] }
    - { apiGroups: [policy], resources: [poddisruptionbudgets], verbs: [list] }
podFailure:
  suffix: pod-failure
  rules:
    - { apiGroups: [''], resources: [pods], verbs: [patch] }
podStress:
  suffix: pod-stress
  rules:
    - { apiGroups: [''], resources: [pods/ephemeralcontainers], verbs: [patch] }
networkPartition:
  suffix: network-partition
  rules:
    - { apiGroups: [networking.k8s.io], resources: [networkpolicies], verbs: [create, get, delete] }
    - { apiGroups: [''], resources: [pods], verbs: [patch] }
nodeFaults:
  suffix: node
  rules:
    - { apiGroups: [''], resources: [nodes], verbs: [patch] }
nodeDrain:
  suffix: node-drain
  rules:
    - { apiGroups: [''], resources: [nodes], verbs: [patch] }
    - { apiGroups: [''], resources: [pods/eviction], verbs: [create] }
    - { apiGroups: [policy], resources: [poddisruptionbudgets], verbs: [list] }
scale:
  suffix: scale
  rules:
    - { apiGroups: [apps], resources: [deployments/scale, statefulsets/scale], verbs: [get] }
    - { apiGroups: [apps], resources: [deployments, statefulsets], verbs: [get, patch] }
{{- end }}
