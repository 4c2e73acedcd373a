build/obj/src/state/state.o: src/state/state.c src/state/state.h \
 src/cal/cal.h
src/state/state.h:
src/cal/cal.h:
