import { Type, type Static } from 'typebox';
import { PageFields, Timestamp, Uuid } from '../../lib/schemas.js';
import { AUDIT_EVENT_TYPES } from './audit.types.js';

const Outcome = Type.Union([Type.Literal('success'), Type.Literal('failure')]);

export const AuditEventSchema = Type.Object({
  id: Uuid,
  type: Type.String(),
  at: Timestamp,
  actor_id: Type.Union([Uuid, Type.Null()]),
  user_id: Type.Union([Uuid, Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  outcome: Outcome,
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type AuditEventView = Static<typeof AuditEventSchema>;

export const AuditQuery = Type.Object(
  {
    user_id: Type.Optional(Uuid),
    actor_id: Type.Optional(Uuid),
    type: Type.Optional(Type.Union(AUDIT_EVENT_TYPES.map((type) => Type.Literal(type)))),
    outcome: Type.Optional(Outcome),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'At or after' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Before' })),
    ...PageFields,
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;
