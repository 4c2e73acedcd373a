build/obj/src/alert/alert_act.o: src/alert/alert_act.c \
 src/alert/alert_int.h src/alert/alert.h src/route/route.h src/sla/sla.h \
 src/state/state.h
src/alert/alert_int.h:
src/alert/alert.h:
src/route/route.h:
src/sla/sla.h:
src/state/state.h:
