build/obj/src/alert/alert_table.o: src/alert/alert_table.c \
 src/alert/alert_int.h src/alert/alert.h src/route/route.h src/sla/sla.h \
 src/state/state.h
src/alert/alert_int.h:
src/alert/alert.h:
src/route/route.h:
src/sla/sla.h:
src/state/state.h:
